"""A kefu worker for `uvicorn --factory tests.integration.hashing_worker:app`: the real app and
wiring (`build_services`, settings from the environment: the shared PostgreSQL and Redis),
with the hashing embedder in place of the encoders so that several workers start in seconds."""

from __future__ import annotations

from fastapi import FastAPI

from bot.app import create_app
from bot.services import build_services
from bot.settings import Settings
from knowledge.embedding import HashingEmbedder


def app() -> FastAPI:
    services = build_services(Settings(), embedders=[HashingEmbedder("e5")])
    services.warm_up()
    built = create_app(services)
    built.state.owns_services = True
    return built
