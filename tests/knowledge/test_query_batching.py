"""Micro-batching of query encodings: callers on many threads, one encoder call at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from knowledge.embedding import HashingEmbedder
from knowledge.query_batching import BatchedEmbedder

TEXTS = [f"問題 {i}: how long does delivery {i} take" for i in range(12)]


class HeldEncoder(HashingEmbedder):
    """The hashing embedder, whose first query call waits until `release` is set, so that
    the callers arriving meanwhile queue up; it records every call's texts."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[str]] = []
        self.fail_with: Exception | None = None

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.entered.set()
        self.release.wait(30)
        if self.fail_with is not None:
            raise self.fail_with
        return super().embed_queries(texts)


def queued_callers(
    batched: BatchedEmbedder, encoder: HeldEncoder, asks: list[list[str]]
) -> tuple[list[np.ndarray | None], list[BaseException | None]]:
    """The first caller holds the encoder; the others arrive while it does; then it is let go.
    Each caller's result (or exception), in the callers' order."""
    results: list[np.ndarray | None] = [None] * len(asks)
    errors: list[BaseException | None] = [None] * len(asks)

    def call(i: int) -> None:
        try:
            results[i] = batched.embed_queries(asks[i])
        except Exception as error:
            errors[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(asks))]
    threads[0].start()
    assert encoder.entered.wait(10)
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 10
    while len(batched._queue) < len(asks) - 1:  # everyone else is waiting for the encoder
        assert time.monotonic() < deadline, "the callers did not queue"
        time.sleep(0.005)
    encoder.release.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    return results, errors


def test_queued_callers_share_one_call_and_each_gets_its_own_vectors_in_order():
    encoder = HeldEncoder()
    batched = BatchedEmbedder(encoder)
    asks = [[TEXTS[0]], [TEXTS[1]], [TEXTS[2], TEXTS[3]], [TEXTS[4]], [TEXTS[5], TEXTS[6]]]
    results, errors = queued_callers(batched, encoder, asks)

    assert errors == [None] * len(asks)
    # the first call alone (the encoder was free), then everyone who queued meanwhile, as one
    assert encoder.batches == [asks[0], [t for ask in asks[1:] for t in ask]]
    assert batched.stats.calls == 2 and batched.stats.largest == 6
    alone = HashingEmbedder()
    for ask, got in zip(asks, results, strict=True):
        assert got is not None and got.shape == (len(ask), alone.dim)
        assert np.array_equal(got, alone.embed_queries(ask))  # as if it had asked by itself


def test_a_batch_holds_at_most_max_batch_texts():
    encoder = HeldEncoder()
    batched = BatchedEmbedder(encoder, max_batch=3)
    asks = [[t] for t in TEXTS[:8]]
    results, errors = queued_callers(batched, encoder, asks)

    assert errors == [None] * len(asks)
    assert [len(b) for b in encoder.batches] == [1, 3, 3, 1]
    assert [t for b in encoder.batches for t in b] == [t for ask in asks for t in ask]
    alone = HashingEmbedder()
    for ask, got in zip(asks, results, strict=True):
        assert np.array_equal(got, alone.embed_queries(ask))


def test_an_encoder_error_reaches_every_caller_of_the_batch_and_the_next_batch_runs():
    encoder = HeldEncoder()
    encoder.fail_with = RuntimeError("encoder out of memory")
    batched = BatchedEmbedder(encoder)
    asks = [[t] for t in TEXTS[:5]]
    results, errors = queued_callers(batched, encoder, asks)

    assert results == [None] * len(asks)
    assert all(isinstance(e, RuntimeError) and "out of memory" in str(e) for e in errors)
    encoder.fail_with = None  # the encoder recovers: the batcher is not stuck
    assert np.array_equal(
        batched.embed_queries([TEXTS[0]]), HashingEmbedder().embed_queries([TEXTS[0]])
    )
    assert not batched._busy and not batched._queue


def test_a_wrong_number_of_vectors_is_an_error_not_a_shifted_answer():
    class Short(HashingEmbedder):
        def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
            return super().embed_queries(texts[:-1])

    with pytest.raises(RuntimeError, match="returned 1 vectors for 2 texts"):
        BatchedEmbedder(Short()).embed_queries(TEXTS[:2])


def _seconds_per_call(embed, calls: int = 200) -> float:
    started = time.perf_counter()
    for i in range(calls):
        embed([TEXTS[i % len(TEXTS)]])
    return (time.perf_counter() - started) / calls


def test_a_single_caller_is_not_delayed():
    direct = _seconds_per_call(HashingEmbedder().embed_queries)
    batched = _seconds_per_call(BatchedEmbedder(HashingEmbedder()).embed_queries)
    assert batched - direct < 0.001  # under a millisecond more per call (no waiting)
    # the same measurement sees a wait when there is one
    waiting = BatchedEmbedder(HashingEmbedder(), max_wait_s=0.02)
    assert _seconds_per_call(waiting.embed_queries, calls=5) >= 0.02


def test_a_caller_that_waits_takes_the_callers_arriving_meanwhile():
    encoder = HashingEmbedder()
    batched = BatchedEmbedder(encoder, max_wait_s=2.0, max_batch=2)
    results: list[np.ndarray] = []
    first = threading.Thread(target=lambda: results.append(batched.embed_queries([TEXTS[0]])))
    first.start()
    time.sleep(0.1)
    started = time.perf_counter()
    second = batched.embed_queries([TEXTS[1]])
    first.join(10)
    # the batch was full with the second caller: nobody waited out the two seconds
    assert time.perf_counter() - started < 1.5
    assert batched.stats.calls == 1 and batched.stats.largest == 2
    assert np.array_equal(second, encoder.embed_queries([TEXTS[1]]))
    assert np.array_equal(results[0], encoder.embed_queries([TEXTS[0]]))


def test_many_threads_at_once_each_get_their_own_vectors():
    batched = BatchedEmbedder(HashingEmbedder(), max_batch=4)
    alone = HashingEmbedder()
    mismatches: list[str] = []

    def customer(n: int) -> None:
        for i in range(30):
            text = f"customer {n} question {i} 退貨"
            if not np.array_equal(batched.embed_queries([text]), alone.embed_queries([text])):
                mismatches.append(text)

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not mismatches
    assert batched.stats.texts == 8 * 30 and not batched._busy and not batched._queue


def test_passages_and_the_protocol_pass_through():
    inner = HashingEmbedder("e5", dim=64, languages=frozenset({"zh"}))
    batched = BatchedEmbedder(inner)
    assert (batched.name, batched.dim, batched.languages) == ("e5", 64, frozenset({"zh"}))
    assert np.array_equal(batched.embed_passages(TEXTS), inner.embed_passages(TEXTS))
    assert batched.embed_queries([]).shape == (0, 64)
    with pytest.raises(ValueError):
        BatchedEmbedder(inner, max_batch=0)


@pytest.mark.integration
def test_e5_batches_give_the_vectors_of_one_question_at_a_time():
    from knowledge.embedding import E5Embedder

    e5 = E5Embedder()
    questions = ["運費怎麼算？", "how long does delivery take", "市民卡遺失怎麼辦", "hello"]
    alone = [e5.embed_queries([q]) for q in questions]
    batched = BatchedEmbedder(e5)
    assert np.array_equal(batched._encode(questions), np.vstack(alone))  # one packed pass
    results: dict[str, np.ndarray] = {}
    threads = [
        threading.Thread(target=lambda q=q: results.__setitem__(q, batched.embed_queries([q])))
        for q in questions * 3
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for q, vector in zip(questions, alone, strict=True):
        assert np.array_equal(results[q], vector)
