"""The chat API: start a conversation, send messages, read the transcript, stream events."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import (
    APIRouter,
    Depends,
    Header,
    Path,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from bot.access.customer import CustomerAccess, bearer, new_token
from bot.access.ratelimit import RateLimited, RateLimiter
from bot.answering.extract import (
    citation_label,
    citation_page,
    citation_title,
    customer_label,
)
from bot.api.attachments import (
    IMAGE_RESPONSES,
    UPLOAD_BODY,
    UPLOAD_RESPONSES,
    picture,
    upload,
)
from bot.api.auth import client_address
from bot.api.errors import ERROR_RESPONSES
from bot.api.fields import ID_PATTERN, MAX_SEQ, ExactText, PlainText
from bot.conversation.events import AgentsUnavailable, BotTurn, Citation, Recorded
from bot.conversation.feed import Listener
from bot.conversation.flows import Actor
from bot.conversation.service import ConversationService, TurnResult
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation, ConversationNotFound
from bot.conversation.views import claimer_name, shared_image
from bot.desk.presence import CustomerSightings, Sightings
from bot.desk.queue import HumanQueue
from bot.privacy.copies import conversation_text

ConversationId = Annotated[
    str, Path(description="The conversation's id", max_length=64, pattern=ID_PATTERN)
]
AttachmentId = Annotated[
    str, Path(description="The picture's id, from its event", pattern=r"^[0-9a-f]{32}$")
]
After = Annotated[
    int, Query(ge=0, le=MAX_SEQ, description="Only the events after this seq (0: all of them)")
]
STREAM_POLL_S = 15.0


class ConversationCreate(BaseModel):
    channel: ExactText = Field(default="web", max_length=40, description="web, line, api, ...")
    customer_id: ExactText | None = Field(
        default=None,
        max_length=200,
        description="The shop's id of the customer. Without a valid signature it is only a "
        "hint (customer_hint) and never joins the customer's earlier conversations",
    )
    customer_id_signature: ExactText | None = Field(
        default=None,
        max_length=128,
        description="Hex HMAC-SHA256 of customer_id with KEFU_ACCESS__CUSTOMER_ID_SECRET, made "
        "by the shop's server; a wrong one is refused (403 customer_signature_invalid)",
    )
    language: Literal["zh", "en"] | None = Field(
        default=None, description="The customer's language if known; else detected per message"
    )


class ConversationPublic(BaseModel):
    id: str
    channel: str
    customer_id: str | None = Field(description="The customer, verified by the shop's signature")
    customer_hint: str | None = Field(
        default=None, description="A customer id given without a signature: unverified"
    )
    language: str | None
    status: ConversationStatus
    created_at: datetime
    updated_at: datetime
    queue_position: int | None = Field(
        default=None, description="While waiting: the customer's place in the human queue"
    )
    agent_name: str | None = Field(default=None, description="While with an agent: who")


class ConversationOpened(ConversationPublic):
    customer_token: str = Field(
        description="The customer's secret for this conversation: send it as "
        "`Authorization: Bearer <token>` on every customer route (the stream: `?token=`). "
        "Shown once; kefu keeps only its digest"
    )


class MessageCreate(BaseModel):
    text: str = Field(description="The customer's message (plain text; HTML is not rendered)")


class CitationPublic(BaseModel):
    """Where an answer comes from, as the customer sees it: no file names, sheets or rows."""

    item_id: str
    label: str = Field(
        description="Where it comes from, for the customer, in the reply's language: the FAQ's "
        "question, or the document's title and page"
    )
    title: str = Field(description="The FAQ row's question, or the document's title")
    page: int | None = Field(default=None, description="The document's page, if it has pages")
    url: str | None = Field(default=None, description="The item's public address, if any")


class CitationInternal(BaseModel):
    """A citation as agents and admins see it: the file and the place in it."""

    item_id: str
    source: str
    locator: str
    label: str = Field(description="The file, sheet and row or page, in the reply's language")
    snippet: str
    title: str
    url: str | None = None


class TurnPublic(BaseModel):
    conversation_id: str
    status: Literal["answered", "clarifying", "refused", "handed_off", "delivered"] = Field(
        description="What the bot did; delivered = a person owns the conversation and will reply"
    )
    reply: str | None
    language: str
    question: str | None = Field(description="The question as understood (follow-ups completed)")
    citations: list[CitationPublic]
    options: list[str] = Field(description="For clarifying: the questions to choose from")
    confidence: float | None
    reason: str | None
    conversation_status: ConversationStatus
    message_seq: int
    turn_seq: int | None
    latency_ms: float | None
    agents_available: bool | None = Field(
        default=None,
        description="On a handoff: whether someone could answer now. False: the reply says "
        "nobody is there and when they are back, and offers to leave a message; the bot keeps "
        "answering",
    )
    next_open: datetime | None = Field(
        default=None, description="On a handoff with nobody there: when the shop next opens"
    )


class EventPublic(BaseModel):
    seq: int
    kind: str
    at: datetime
    data: dict[str, Any]


class HandoffPublic(EventPublic):
    """The handoff as recorded: the move into the queue (status_changed) or, with nobody to
    answer now, the notice of it (agents_unavailable)."""

    agents_available: bool
    next_open: datetime | None = None
    reply: str | None = Field(default=None, description="With nobody there: what to tell")


class OfflineMessageCreate(BaseModel):
    text: str = Field(max_length=4000, description="The message for the agents")
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)


class Transcript(BaseModel):
    conversation: ConversationPublic
    events: list[EventPublic]


class SurveyCreate(BaseModel):
    csat: int = Field(ge=1, le=5, description="How satisfied: 1 (very unhappy) to 5 (very happy)")
    ces: int = Field(ge=1, le=7, description="How easy it was to get help: 1 (very hard) to 7")
    comment: PlainText = Field(default="", max_length=2000)


class FeedbackCreate(BaseModel):
    helpful: bool
    turn_seq: int | None = Field(
        default=None, ge=1, le=MAX_SEQ, description="The answer the feedback is on"
    )


def conversation_public(c: Conversation) -> ConversationPublic:
    return ConversationPublic(
        id=c.id,
        channel=c.channel,
        customer_id=c.customer_id,
        customer_hint=c.customer_hint,
        language=c.language,
        status=c.status,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def citations_public(citations: tuple[Citation, ...], language: str) -> list[CitationPublic]:
    return [
        CitationPublic(
            item_id=c.item_id,
            label=customer_label(c, language),
            title=citation_title(c),
            page=citation_page(c),
            url=c.url or None,
        )
        for c in citations
    ]


def citations_internal(citations: tuple[Citation, ...], language: str) -> list[CitationInternal]:
    return [
        CitationInternal(
            item_id=c.item_id,
            source=c.source,
            locator=c.locator,
            label=citation_label(c, language),
            snippet=c.snippet,
            title=citation_title(c),
            url=c.url or None,
        )
        for c in citations
    ]


def event_public(recorded: Recorded, *, for_agent: bool = False) -> EventPublic:
    """An event as an API client sees it. Customers get no private events (callers filter
    with `customer_visible`) and no internals of bot turns (retrieved scores, details, the
    topic's file and sheet; citations name the FAQ's question or the document, not the file)."""
    event = recorded.event
    data = event.payload()
    if isinstance(event, BotTurn):
        data["decision"] = event.decision.value
        present = citations_internal if for_agent else citations_public
        data["citations"] = [c.model_dump() for c in present(event.citations, event.language)]
        if not for_agent:
            # the topic names the knowledge file and sheet: for agents and the dashboard only
            del data["retrieved"], data["details"], data["topic"]
    if not for_agent:
        data.pop("agent", None)  # usernames stay inside; customers see display names
        data.pop("assignee", None)
        if "actor" in data:
            data["actor"] = Actor.parse(data["actor"]).kind
    return EventPublic(seq=recorded.seq, kind=event.kind, at=event.at, data=data)


def customer_visible(recorded: Recorded) -> bool:
    return not recorded.event.private


def turn_public(result: TurnResult) -> TurnPublic:
    message = result.message.event
    language = getattr(message, "language", "zh")
    if result.turn is None:
        return TurnPublic(
            conversation_id=result.conversation.id,
            status="delivered",
            reply=None,
            language=language,
            question=None,
            citations=[],
            options=[],
            confidence=None,
            reason=None,
            conversation_status=result.conversation.status,
            message_seq=result.message.seq,
            turn_seq=None,
            latency_ms=None,
        )
    turn = result.turn.event
    assert isinstance(turn, BotTurn)
    available = result.availability
    return TurnPublic(
        agents_available=available.agents_available if available else None,
        next_open=available.next_open if available and not available.agents_available else None,
        conversation_id=result.conversation.id,
        status=turn.decision.value,
        reply=turn.reply,
        language=turn.language,
        question=turn.question,
        citations=citations_public(turn.citations, turn.language),
        options=list(getattr(turn, "options", ())),
        confidence=turn.confidence,
        reason=turn.reason,
        conversation_status=result.conversation.status,
        message_seq=result.message.seq,
        turn_seq=result.turn.seq,
        latency_ms=turn.latency_ms,
    )


def with_place(c: Conversation, events: list[Recorded], queue: HumanQueue) -> ConversationPublic:
    """The conversation with the customer's place in the queue, or the agent's name."""
    public = conversation_public(c)
    if c.status == ConversationStatus.WAITING:
        public.queue_position = queue.position(c.id)
    elif c.status == ConversationStatus.WITH_AGENT:
        public.agent_name = claimer_name(c, events)
    return public


def router(
    service: ConversationService,
    queue: HumanQueue,
    per_client: RateLimiter,
    per_conversation: RateLimiter,
    access: CustomerAccess,
    sightings: Sightings | None = None,
    pictures: RateLimiter | None = None,
) -> APIRouter:
    sightings = sightings or CustomerSightings()

    async def limited(request: HTTPConnection) -> None:
        """Customer endpoints are anonymous: each client address has a budget, and so has
        each conversation (one customer hammering send). Async: counting in memory takes
        microseconds, less than a hop to the thread pool would."""
        if request.scope["type"] != "http":
            return  # a stream counts itself, and closes with a code of its own
        per_client.hit("client", client_address(request))
        conversation_id = request.path_params.get("conversation_id")
        if conversation_id and request.scope["method"] == "POST":
            per_conversation.hit("conversation", conversation_id)

    def opened(
        conversation_id: ConversationId,
        authorization: Annotated[
            str | None,
            Header(description="`Bearer <customer_token>` from starting the conversation"),
        ] = None,
    ) -> Conversation:
        """The conversation, if the caller holds its customer token; else 404 as if unknown."""
        conversation = service.store.get(conversation_id)
        access.check(conversation, bearer(authorization))
        return conversation

    customer = Depends(opened)

    api = APIRouter(
        prefix="/api/conversations", tags=["conversations"], dependencies=[Depends(limited)]
    )

    @api.post("", status_code=201, response_model=ConversationOpened, responses=ERROR_RESPONSES)
    def start(body: ConversationCreate | None = None) -> ConversationOpened:
        """Start a conversation; the answer carries the customer's token."""
        body = body or ConversationCreate()
        identity = access.identify(body.customer_id, body.customer_id_signature)
        token, digest = new_token()
        conversation = service.start(
            body.channel,
            identity.customer_id,
            body.language,
            customer_hint=identity.hint,
            token_digest=digest,
        )
        return ConversationOpened(
            **conversation_public(conversation).model_dump(), customer_token=token
        )

    @api.post("/{conversation_id}/messages", response_model=TurnPublic, responses=ERROR_RESPONSES)
    def send(body: MessageCreate, conversation: Conversation = customer) -> TurnPublic:
        """Send the customer's message; the reply is the bot's turn (or `delivered` to a person)."""
        result = service.send(conversation.id, body.text)
        sightings.seen(conversation.id)
        return turn_public(result)

    @api.post(
        "/{conversation_id}/images",
        status_code=201,
        response_model=EventPublic,
        responses=UPLOAD_RESPONSES,
        openapi_extra=UPLOAD_BODY,
    )
    async def send_image(request: Request, conversation: Conversation = customer) -> EventPublic:
        """Send a picture (a photo of a defect): the body is the image's bytes. Its type is read
        from its content; 413 image_too_large past the limit, 415 image_unsupported_type for
        anything but JPEG, PNG, GIF or WebP (an SVG or a page renamed .png too), 400
        image_empty, image_damaged (truncated), image_too_many_pixels, 409
        image_quota_reached when the conversation keeps as many pictures as it may. It is kept
        without its metadata (GPS position, camera, owner; the orientation aside). The bot
        reads no pictures; the agent sees it in the conversation."""
        if pictures is not None:
            pictures.hit("pictures", client_address(request))  # each one is kept on disk
        data = await upload(request, service.attachments)
        recorded = await run_in_threadpool(service.send_image, conversation.id, data)
        sightings.seen(conversation.id)
        return event_public(recorded)

    @api.get(
        "/{conversation_id}/attachments/{attachment_id}",
        response_class=Response,
        responses={**ERROR_RESPONSES, **IMAGE_RESPONSES},
    )
    def attachment(attachment_id: AttachmentId, opened: Conversation = customer) -> Response:
        """A picture of this conversation (the customer's or an agent's), for its customer
        only: 404 for any other token, as for an unknown conversation."""
        visible = [r for r in service.store.events(opened.id) if customer_visible(r)]
        return picture(service.attachments, shared_image(visible, attachment_id), attachment_id)

    @api.get("/{conversation_id}", response_model=Transcript, responses=ERROR_RESPONSES)
    def transcript(after: After = 0, opened: Conversation = customer) -> Transcript:
        """The conversation and its events (only those after seq `after`, if given)."""
        conversation, events = service.transcript(opened.id)
        sightings.seen(opened.id)  # the customer's widget is there
        return Transcript(
            conversation=with_place(conversation, events, queue),
            events=[event_public(r) for r in events if r.seq > after and customer_visible(r)],
        )

    @api.get(
        "/{conversation_id}/copy",
        response_class=Response,
        responses={
            **ERROR_RESPONSES,
            200: {
                "description": "The conversation as a text file, as an attachment",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
        },
    )
    def copy(opened: Conversation = customer) -> Response:
        """The customer's own copy of the conversation, as a text file to keep: their
        messages and the replies, with times; nothing private."""
        conversation, events = service.transcript(opened.id)
        return PlainTextResponse(
            conversation_text(conversation, events),
            headers={
                "content-disposition": f'attachment; filename="conversation-{conversation.id}.txt"'
            },
        )

    @api.post("/{conversation_id}/handoff", response_model=HandoffPublic, responses=ERROR_RESPONSES)
    def handoff(conversation: Conversation = customer) -> HandoffPublic:
        """The customer asks for a person: the conversation joins the human queue; with
        nobody to answer now (closed, or no agent online), `agents_available` is false, the
        reply says when people are back, and the conversation stays with the bot."""
        recorded = service.request_person(conversation.id)
        sightings.seen(conversation.id)
        public = event_public(recorded)
        event = recorded.event
        if isinstance(event, AgentsUnavailable):
            return HandoffPublic(
                **public.model_dump(),
                agents_available=False,
                next_open=datetime.fromisoformat(event.next_open) if event.next_open else None,
                reply=event.reply,
            )
        return HandoffPublic(**public.model_dump(), agents_available=True)

    @api.post("/{conversation_id}/bot", response_model=EventPublic, responses=ERROR_RESPONSES)
    def back_to_bot(conversation: Conversation = customer) -> EventPublic:
        """A waiting customer goes back to the bot: the conversation leaves the queue and
        the bot answers again (409 when it is not waiting)."""
        return event_public(service.back_to_bot(conversation.id))

    @api.post(
        "/{conversation_id}/offline-message",
        status_code=201,
        response_model=EventPublic,
        responses=ERROR_RESPONSES,
    )
    def offline_message(
        body: OfflineMessageCreate, conversation: Conversation = customer
    ) -> EventPublic:
        """Leave a message for the agents while nobody is there, with an email or a phone
        number (or both; 400 no_contact, bad_email, bad_phone). Agents find it in their
        inbox; their answer appears in this conversation."""
        return event_public(
            service.leave_message(conversation.id, body.text, body.email, body.phone)
        )

    @api.post(
        "/{conversation_id}/survey",
        status_code=201,
        response_model=EventPublic,
        responses=ERROR_RESPONSES,
    )
    def survey(body: SurveyCreate, conversation: Conversation = customer) -> EventPublic:
        """The end-of-conversation survey: CSAT (1-5) and customer effort (1-7). Open once the
        conversation is resolved (409 survey_not_open), once (409 survey_already_answered)."""
        return event_public(service.survey(conversation.id, body.csat, body.ces, body.comment))

    @api.post(
        "/{conversation_id}/feedback",
        status_code=201,
        response_model=EventPublic,
        responses=ERROR_RESPONSES,
    )
    def feedback(body: FeedbackCreate, conversation: Conversation = customer) -> EventPublic:
        """Did the answer help? (A yes counts as a confirmed resolution.)"""
        return event_public(service.feedback(conversation.id, body.helpful, body.turn_seq))

    @api.websocket("/{conversation_id}/events")
    async def stream(
        websocket: WebSocket,
        conversation_id: ConversationId,
        after: After = 0,
        token: Annotated[
            str | None,
            Query(max_length=200, description="The customer token (browsers send no headers)"),
        ] = None,
    ) -> None:
        """Every event of the conversation as JSON, from seq `after` on, live. A client that
        reconnects with the last seq it saw receives exactly what it missed. Needs the
        customer token as `?token=` (or an Authorization header); else closes with 4404."""
        # Accept before closing: a close before the handshake reaches a browser as HTTP 403
        # and close code 1006, never as 4404.
        await websocket.accept()
        try:
            per_client.hit("client", client_address(websocket))
            conversation = await run_in_threadpool(service.store.get, conversation_id)
            access.check(conversation, token or bearer(websocket.headers.get("authorization")))
        except RateLimited:
            await websocket.close(code=4429, reason="rate_limited")
            return
        except ConversationNotFound:
            await websocket.close(code=4404, reason="conversation_not_found")
            return

        place: list[int | None] = [None]

        async def after_events(listener: Listener) -> None:
            conversation = await run_in_threadpool(service.store.get, conversation_id)
            position = None
            if conversation.status == ConversationStatus.WAITING:
                position = await run_in_threadpool(queue.position, conversation_id)
            if position is not None and position != place[0]:
                signal = {"kind": "queue_position", "data": {"position": position}}
                await websocket.send_json(signal)
            place[0] = position

        def typing() -> None:
            signal = {"kind": "typing", "data": {"role": "customer", "name": ""}}
            service.feed.signal(conversation_id, signal, sender_role="customer")

        sightings.stream_opened(conversation_id)
        try:
            await stream_events(
                websocket,
                service,
                conversation_id,
                after,
                role="customer",
                visible=customer_visible,
                present=event_public,
                after_events=after_events,
                on_typing=typing,
            )
        finally:
            sightings.stream_closed(conversation_id)

    return api


async def stream_events(
    websocket: WebSocket,
    service: ConversationService,
    conversation_id: str,
    after: int,
    *,
    role: str,
    visible: Callable[[Recorded], bool],
    present: Callable[[Recorded], EventPublic],
    after_events: Callable[[Listener], Awaitable[None]] | None = None,
    on_typing: Callable[[], None] | None = None,
) -> None:
    """Send the conversation's events after seq `after`, then live ones and signals, until
    the client leaves. The client may send {"type": "typing"}."""

    async def push(listener: Listener) -> None:
        seen = after
        while True:
            # signals first: a "typing" that came before a message must not arrive after it
            for signal in listener.take_signals():
                await websocket.send_json(signal)
            events = await run_in_threadpool(service.store.events, conversation_id, seen)
            for recorded in events:
                if visible(recorded):
                    await websocket.send_json(present(recorded).model_dump(mode="json"))
                seen = recorded.seq
            if after_events is not None:
                await after_events(listener)
            await listener.wait(STREAM_POLL_S)

    def on_text(text: str) -> None:
        if on_typing is not None and _is_typing(text):
            on_typing()

    with service.feed.listen(conversation_id, role) as listener:
        await until_client_leaves(websocket, lambda: push(listener), on_text)


async def until_client_leaves(
    websocket: WebSocket,
    push: Callable[[], Coroutine[Any, Any, None]],
    on_text: Callable[[str], None] | None = None,
) -> None:
    """Run `push` until the client leaves. Reading is how its leaving (or a server shutdown)
    is noticed; without it a quiet stream stays open for ever."""

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if on_text is not None and message.get("text"):
                on_text(message["text"])

    # anyio's task group, the server's own concurrency: when either side ends, the other is
    # cancelled, and a cancelled stream (the client gone, a shutdown) leaves nothing running
    async with anyio.create_task_group() as group:

        async def first_to_end(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
            with contextlib.suppress(WebSocketDisconnect):
                await work()
            group.cancel_scope.cancel()

        group.start_soon(first_to_end, push)
        group.start_soon(first_to_end, receive)


def _is_typing(text: str | None) -> bool:
    if not text or len(text) > 200:
        return False
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "typing"
