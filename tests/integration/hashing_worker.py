"""A kefu worker, `python -m tests.integration.hashing_worker --port N`: the real app and wiring
(`build_services`, settings from the environment: the shared PostgreSQL and Redis) served by
uvicorn with `kefu serve`'s options, with the hashing embedder in place of the encoders so
that several workers start in seconds.

KEFU_TEST_TURN_DELAY_S makes every answer take that much longer, as a slow model would, so
that a test can stop the worker while a turn is under way."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from fastapi import FastAPI

from bot.answering.answerer import Answerer
from bot.app import create_app, serve_options
from bot.services import build_services
from bot.settings import Settings
from knowledge.embedding import HashingEmbedder


def app() -> FastAPI:
    services = build_services(Settings(), embedders=[HashingEmbedder("e5")])
    services.warm_up()
    delay = float(os.environ.get("KEFU_TEST_TURN_DELAY_S", "0"))
    if delay > 0:
        slow_down(services.answerer, delay)
    built = create_app(services)
    built.state.owns_services = True
    return built


def slow_down(answerer: Answerer, seconds: float) -> None:
    answer = answerer.answer

    def slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return answer(*args, **kwargs)

    answerer.answer = slowly  # type: ignore[method-assign]


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(
        "tests.integration.hashing_worker:app",
        factory=True,
        host="127.0.0.1",
        port=parser.parse_args().port,
        **serve_options(Settings()),
    )
