"""The web app: `create_app(services)` builds the FastAPI application; nothing global."""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from bot.api import admin, agents, auth, conversations, errors, metrics
from bot.services import Services


class SearchHit(BaseModel):
    id: str
    text: str
    source: str
    locator: str
    score: float
    scores: dict[str, float]
    metadata: dict[str, Any]


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHit]


def _static(name: str) -> str:
    return files("bot").joinpath("static", name).read_text(encoding="utf-8")


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="kefu",
        summary="Self-hosted customer-service bot grounded in your own FAQ files.",
        version="0.1.0",
    )
    app.state.services = services
    errors.install(app)
    if services.settings.access.widget_origins:
        # The widget on a shop's own site calls the customer API across origins. No
        # credentials: the agents' session cookie never goes along on such a call.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=services.settings.access.widget_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
            allow_credentials=False,
        )
    limits = services.limits
    app.include_router(
        conversations.router(
            services.conversations, services.queue, limits.per_client, limits.per_conversation
        )
    )
    app.include_router(
        auth.router(services.accounts, limits.logins, services.settings.access.secure_cookies)
    )
    app.include_router(
        agents.router(
            services.accounts,
            services.desk,
            services.queue,
            services.packets,
            services.retriever,
            services.saved_replies,
            services.history,
            services.consoles,
            services.assignment,
        )
    )
    window = timedelta(minutes=services.settings.conversation.assumed_resolution_minutes)
    tag_settings = services.settings.tags
    app.include_router(metrics.router(services.store, window, services.accounts, tag_settings))
    app.include_router(
        admin.router(
            services.accounts,
            services.library,
            services.drafts,
            services.store,
            next((e for e in services.kb.embedders if e.languages is None), None),
            tag_settings,
            window,
        )
    )
    app.mount("/static", StaticFiles(directory=str(files("bot").joinpath("static"))), "static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def chat_page() -> str:
        return files("bot").joinpath("static/chat.html").read_text(encoding="utf-8")

    @app.get("/widget.js", include_in_schema=False)
    def widget_script() -> Response:
        """The customer widget, embeddable with <script src=".../widget.js">."""
        return Response(_static("widget.js"), media_type="text/javascript; charset=utf-8")

    @app.get("/demo", response_class=HTMLResponse, include_in_schema=False)
    def demo_page() -> str:
        """A demo shop page that embeds the widget."""
        return _static("demo.html")

    @app.get("/console", response_class=HTMLResponse, include_in_schema=False)
    def console_page() -> str:
        """The agents' console: log in, the live queue, claim, reply, resolve."""
        return _static("console.html")

    @app.get("/staff.js", include_in_schema=False)
    def staff_script() -> Response:
        """What the console and the admin pages share: DOM, dates, API calls and errors."""
        return Response(_static("staff.js"), media_type="text/javascript; charset=utf-8")

    @app.get("/console.js", include_in_schema=False)
    def console_script() -> Response:
        return Response(_static("console.js"), media_type="text/javascript; charset=utf-8")

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin_page() -> str:
        """The admins' pages: knowledge files, drafts, the dashboard, unanswered questions."""
        return _static("admin.html")

    @app.get("/admin.js", include_in_schema=False)
    def admin_script() -> Response:
        return Response(_static("admin.js"), media_type="text/javascript; charset=utf-8")

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page() -> str:
        return files("bot").joinpath("static/search.html").read_text(encoding="utf-8")

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "chunks": services.kb.catalog.count()}

    @app.get(
        "/api/search",
        response_model=SearchResponse,
        responses={422: {"description": "Missing or empty query"}},
    )
    def search(
        q: Annotated[str, Query(min_length=1, max_length=500, description="The question")],
        k: Annotated[int, Query(ge=1, le=50, description="How many hits")] = 5,
    ) -> SearchResponse:
        hits = services.retriever.search(q, k)
        return SearchResponse(
            query=q,
            hits=[
                SearchHit(
                    id=h.id,
                    text=h.text,
                    source=h.source,
                    locator=h.locator,
                    score=h.score,
                    scores=h.scores,
                    metadata=h.metadata,
                )
                for h in hits
            ],
        )

    @app.get("/api/sources")
    def sources() -> dict[str, Any]:
        records = services.kb.catalog.sources()
        return {"data": [r.__dict__ for r in records], "count": len(records)}

    return app
