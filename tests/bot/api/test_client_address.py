"""Whose budget a request counts against and which address the audit log records, over a real
uvicorn server served as `kefu serve` serves it: X-Forwarded-For names the client only when a
proxy named in settings sent it; from any other peer (no proxy named, or another one) it is
ignored."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bot.app import create_app, serve_options
from bot.services import Services
from bot.settings import AccessSettings
from tests.bot.api.conftest import services_over
from tests.conftest import free_port


@contextmanager
def served(
    data_dir: Path, tmp_path: Path, access: AccessSettings
) -> Iterator[tuple[str, Services]]:
    import uvicorn

    for services in services_over(data_dir, tmp_path, access):
        port = free_port()
        config = uvicorn.Config(
            create_app(services),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            **serve_options(services.settings),
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", services
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def starts(url: str, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=url, timeout=30) as http:
        return [
            http.post("/api/conversations", headers={"X-Forwarded-For": f}).status_code
            for f in forwarded_for
        ]


def test_a_spoofed_forwarding_header_shares_the_clients_budget(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    access = AccessSettings(customer_rate_limit="3/minute")
    with served(demo_data_dir, tmp_path, access) as (url, _):
        spoofed = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "198.51.100.9"]
        assert starts(url, spoofed) == [201, 201, 201, 429, 429]
        with httpx.Client(base_url=url) as http:
            assert http.get("/api/search", params={"q": "運費"}).status_code == 200


def test_a_trusted_proxy_names_each_client(demo_data_dir: Path, tmp_path: Path) -> None:
    access = AccessSettings(customer_rate_limit="3/minute", trusted_proxies=["127.0.0.1"])
    with served(demo_data_dir, tmp_path, access) as (url, _):
        # each client behind the proxy has its own budget
        assert (
            starts(url, ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]) == [201] * 4
        )
        # and one client spends its own
        assert starts(url, ["198.51.100.9"] * 4) == [201, 201, 201, 429]
        # what a client puts in front of the proxy's own entry does not change who it is
        assert starts(url, ["10.9.9.9, 198.51.100.9"]) == [429]


def logged_in_from(url: str, services: Services, forwarded_for: str) -> str | None:
    """The address the audit log records for a failed log-in sent with this header."""
    with httpx.Client(base_url=url, timeout=30) as http:
        refused = http.post(
            "/api/auth/login",
            json={"username": "nobody", "password": "not the password"},
            headers={"X-Forwarded-For": forwarded_for},
        )
    assert refused.status_code == 401
    [entry] = services.audit.entries(action="login_failed", limit=1)
    return entry.address


def test_the_audit_log_records_the_client_a_trusted_proxy_names(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    access = AccessSettings(trusted_proxies=["127.0.0.1"])
    with served(demo_data_dir, tmp_path, access) as (url, services):
        assert logged_in_from(url, services, "198.51.100.7") == "198.51.100.7"


def test_a_peer_that_is_not_the_trusted_proxy_is_not_believed(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    # a proxy is named, but the request comes from elsewhere (straight to the worker)
    access = AccessSettings(customer_rate_limit="3/minute", trusted_proxies=["10.0.0.10"])
    with served(demo_data_dir, tmp_path, access) as (url, services):
        assert logged_in_from(url, services, "198.51.100.7") == "127.0.0.1"
        spoofed = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
        assert starts(url, spoofed) == [201, 201, 201, 429]
