"""The web app: `create_app(services)` builds the FastAPI application; nothing global."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib.resources import files
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.access.accounts import SessionInvalid
from bot.access.customer import CustomerAccess
from bot.api import (
    admin,
    agents,
    audit,
    auth,
    channels,
    conversations,
    customer_rights,
    customers,
    desk_status,
    errors,
    metrics,
    orders,
    users,
    widget,
)
from bot.api.origins import OriginGuard
from bot.conversation.events import now
from bot.customers.contacts import verified_contacts
from bot.privacy.retention import purge_periodically
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # presence leases (bot.desk.shared_presence.LEASE_S) last three beats
BROADCAST_START_S = 5.0  # how long start-up waits for the subscription to the other workers


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


async def _expire_ghosts(services: Services) -> None:
    """Every `desk.expiry_interval_s`: customers gone from the queue move out of it."""
    while True:
        await asyncio.sleep(services.settings.desk.expiry_interval_s)
        try:
            await run_in_threadpool(services.expiry.run)
        except Exception:  # one failed look must not end the looking
            log.exception("queue.expiry_failed")


async def _answer_unanswered(services: Services) -> None:
    """Once, on start: answer the customers' messages a stopped server logged and never
    answered (conversation.answer_unanswered_minutes)."""
    minutes = services.settings.conversation.answer_unanswered_minutes
    if minutes <= 0:
        return
    since = now() - timedelta(minutes=minutes)
    try:
        answered = await run_in_threadpool(services.conversations.answer_unanswered, since)
    except Exception:
        log.exception("conversation.recovery_failed")
        return
    if answered:
        log.info("conversation.recovered", extra={"answered": answered})


async def _heartbeat(services: Services) -> None:
    """Every few seconds: renew the presence leases of the consoles and widget streams open on
    this worker (presence in Redis; nothing to do in process memory)."""
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await run_in_threadpool(services.presence.heartbeat)
            await run_in_threadpool(services.sightings.heartbeat)
        except Exception as error:  # Redis away: the next beat tries again
            log.warning("presence.heartbeat_failed error=%s", error)


@contextlib.asynccontextmanager
async def background_jobs(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs: the retention job every purge_interval_hours, the expiry of
    customers who left the queue every desk.expiry_interval_s, and the ingest jobs' lanes;
    once on start, the pictures an older version kept as files taken into the database, and
    the answers to messages a stopped server left unanswered. With Redis: the live events to
    and from the other workers, and the presence heartbeat."""
    services: Services = app.state.services
    # before serving: a picture an older version kept as a file is served from the database
    await run_in_threadpool(services.take_over_pictures)
    services.library.start()  # this worker runs its share of the queued ingest jobs
    retention = services.retention()
    interval = timedelta(hours=services.settings.privacy.purge_interval_hours)
    tasks = [
        asyncio.create_task(_expire_ghosts(services)),
        asyncio.create_task(_answer_unanswered(services)),
        asyncio.create_task(_heartbeat(services)),
    ]
    if retention is not None:
        tasks.append(asyncio.create_task(purge_periodically(retention, interval)))
    if services.broadcast is not None:
        tasks.append(asyncio.create_task(services.broadcast.run()))
        # serve once the other workers' news arrives (or say why not in /readyz)
        await services.broadcast.wait_subscribed(BROADCAST_START_S)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if getattr(app.state, "owns_services", False):
            services.close()


def worker_app() -> FastAPI:
    """One worker of `kefu serve --workers N` (uvicorn's app factory, run in each worker
    process): its services built from the environment's settings, the models loaded before it
    serves, everything closed when it stops."""
    from bot.privacy.logs import install_log_masking
    from bot.services import build_services

    install_log_masking()
    services = build_services(Settings())
    services.warm_up()
    app = create_app(services)
    app.state.owns_services = True
    return app


def readiness(services: Services) -> dict[str, bool]:
    """Each thing a worker needs to serve, and whether it is there now."""
    from sqlalchemy import text

    checks: dict[str, bool] = {}
    engine = getattr(services.store, "engine", None)
    if engine is not None:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = True
        except Exception:
            checks["database"] = False
    if services.settings.redis_url:
        client = getattr(services.presence, "client", None)
        try:
            reachable = client is not None and bool(client.ping())
        except Exception:
            reachable = False
        subscribed = services.broadcast is not None and services.broadcast.connected
        checks["redis"] = reachable and subscribed
    if services.settings.chroma_url:
        try:
            services.kb.vectors.heartbeat()  # type: ignore[attr-defined]
            checks["chroma"] = True
        except Exception:
            checks["chroma"] = False
    checks["models"] = services.models_ready
    return checks


# Seconds an idle keep-alive connection stays open on the server (see serve_options).
KEEP_ALIVE_S = 75


def serve_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for serving the app. Its own reading of X-Forwarded-For (which trusts
    127.0.0.1 by default) is off: the app reads it, from KEFU_ACCESS__TRUSTED_PROXIES only.

    On SIGTERM uvicorn stops accepting connections, closes the open WebSockets (the live
    streams) with 1012 "service restart" so that clients reconnect to another worker, lets the
    requests under way finish for at most `shutdown_grace_s`, then runs the lifespan's end
    (background jobs cancelled, services closed).

    An idle keep-alive connection is kept KEEP_ALIVE_S, longer than clients and proxies keep
    theirs (browsers and httpx about 5 s, nginx's upstream 60 s): at uvicorn's 5 s default a
    customer typing every few seconds could send a message on a connection the server was
    closing at that moment, and see it fail (one in 15,000 requests in `make bench-load`)."""
    return {
        "proxy_headers": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
        "timeout_keep_alive": KEEP_ALIVE_S,
    }


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="kefu",
        summary="Self-hosted customer-service bot grounded in your own FAQ files.",
        version="0.1.0",
        lifespan=background_jobs,
    )
    app.state.services = services
    errors.install(app)
    app.add_middleware(audit.AuditTrail, audit=services.audit)
    if services.settings.access.widget_origins:
        # The widget on a shop's own site calls the customer API across origins. No
        # credentials: the agents' session cookie never goes along on such a call.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=services.settings.access.widget_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "authorization"],
            allow_credentials=False,
        )
    access = services.settings.access
    app.add_middleware(OriginGuard, cookie=auth.COOKIE, allowed=access.allowed_origins)
    if access.trusted_proxies:
        # outermost: the client address is known before anything counts it
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=access.trusted_proxies)
    limits = services.limits
    customer_access = CustomerAccess(access.customer_id_secret)
    app.include_router(
        conversations.router(
            services.conversations,
            services.queue,
            limits.per_client,
            limits.per_conversation,
            customer_access,
            services.sightings,
            limits.pictures,
        )
    )
    app.include_router(
        widget.router(
            services.settings.notice, services.staffing, services.branding, limits.per_client
        )
    )
    app.include_router(widget.admin_router(services.accounts, services.branding))
    app.include_router(users.router(services.accounts))
    app.include_router(
        auth.router(
            services.accounts,
            limits.logins,
            services.settings.access.secure_cookies,
            services.presence.logged_out,
        )
    )
    app.include_router(
        agents.router(
            services.accounts,
            services.desk,
            services.queue,
            services.packets,
            services.retriever,
            services.presence,
            services.saved_replies,
            services.history,
            services.assignment,
        )
    )
    app.include_router(
        desk_status.router(services.accounts, services.staffing, services.presence, services.inbox)
    )
    window = timedelta(minutes=services.settings.conversation.assumed_resolution_minutes)
    tag_settings = services.settings.tags
    attribution_window = timedelta(days=services.settings.orders.attribution_days)
    directory = services.directory()
    app.include_router(
        metrics.router(
            services.store,
            window,
            services.accounts,
            tag_settings,
            services.orders,
            attribution_window,
            services.staffing.hours.get,
            directory,
        )
    )
    app.include_router(
        admin.router(
            services.accounts,
            services.library,
            services.drafts,
            services.store,
            next((e for e in services.kb.embedders if e.languages is None), None),
            tag_settings,
            window,
            services.staffing.hours.get,
            services.orders,
            attribution_window,
            directory,
        )
    )
    app.include_router(audit.router(services.accounts, services.audit))
    customer_data = services.customers()
    if customer_data is not None:
        app.include_router(customer_rights.router(services.accounts, customer_data))
    app.include_router(orders.webhooks_router(services.order_sync))
    app.include_router(orders.admin_router(services.orders, services.accounts))
    app.include_router(
        orders.agent_router(
            services.orders,
            services.store,
            services.accounts,
            verified_contacts(services.store, services.identities, services.orders.find)
            if services.identities is not None
            else None,
        )
    )
    app.include_router(channels.router(services.relay, services.accounts))
    if services.identities is not None and directory is not None:
        app.include_router(
            customers.router(
                services.identities,
                services.store,
                services.accounts,
                limits.per_client,
                directory,
                customer_access,
                directory.consents,
                directory.fields,
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

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process is up (for a process manager or a load balancer's liveness check)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Ready to serve: the database, Redis and the Chroma server (those configured) answer
        and the models are loaded; 503 with what is not, otherwise."""
        checks = readiness(services)
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "chunks": services.kb.catalog.count()}

    @app.get(
        "/api/search",
        response_model=SearchResponse,
        responses={422: {"description": "Missing or empty query"}},
    )
    def search(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=500, description="The question")],
        k: Annotated[int, Query(ge=1, le=50, description="How many hits")] = 5,
    ) -> SearchResponse:
        """Search the knowledge base (rate-limited per client address: it runs the encoders)."""
        limits.search.hit("search", auth.client_address(request))
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
    def sources(request: Request) -> dict[str, Any]:
        """The knowledge files. Anonymous callers see each file's name, status and size only;
        where it came from on the server, its errors and fingerprint are for staff."""
        limits.search.hit("search", auth.client_address(request))
        records = services.kb.catalog.sources()
        try:
            services.accounts.session(request.cookies.get(auth.COOKIE))
        except SessionInvalid:
            public = [{"name": r.name, "status": r.status, "items": r.items} for r in records]
            return {"data": public, "count": len(records)}
        return {"data": [r.__dict__ for r in records], "count": len(records)}

    return app
