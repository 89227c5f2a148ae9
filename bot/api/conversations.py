"""The chat API: start a conversation, send messages, read the transcript, stream events."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from bot.answering.extract import citation_label
from bot.api.errors import ERROR_RESPONSES
from bot.conversation.events import BotTurn, Citation, Recorded
from bot.conversation.feed import Listener
from bot.conversation.service import ConversationService, TurnResult
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation, ConversationNotFound

ConversationId = Annotated[str, Path(description="The conversation's id", max_length=64)]
STREAM_POLL_S = 15.0


class ConversationCreate(BaseModel):
    channel: str = Field(default="web", max_length=40, description="web, line, api, ...")
    customer_id: str | None = Field(default=None, max_length=200)
    language: Literal["zh", "en"] | None = Field(
        default=None, description="The customer's language if known; else detected per message"
    )


class ConversationPublic(BaseModel):
    id: str
    channel: str
    customer_id: str | None
    language: str | None
    status: ConversationStatus
    created_at: datetime
    updated_at: datetime


class MessageCreate(BaseModel):
    text: str = Field(description="The customer's message (plain text; HTML is not rendered)")


class CitationPublic(BaseModel):
    item_id: str
    source: str
    locator: str
    label: str = Field(description="Where it comes from, in the reply's language")
    snippet: str


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


class EventPublic(BaseModel):
    seq: int
    kind: str
    at: datetime
    data: dict[str, Any]


class Transcript(BaseModel):
    conversation: ConversationPublic
    events: list[EventPublic]


class FeedbackCreate(BaseModel):
    helpful: bool
    turn_seq: int | None = Field(default=None, ge=1, description="The answer the feedback is on")


def conversation_public(c: Conversation) -> ConversationPublic:
    return ConversationPublic(
        id=c.id,
        channel=c.channel,
        customer_id=c.customer_id,
        language=c.language,
        status=c.status,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def citations_public(citations: tuple[Citation, ...], language: str) -> list[CitationPublic]:
    return [CitationPublic(**c.__dict__, label=citation_label(c, language)) for c in citations]


def event_public(recorded: Recorded) -> EventPublic:
    event = recorded.event
    data = event.payload()
    if isinstance(event, BotTurn):
        data["decision"] = event.decision.value
        data["citations"] = [
            c.model_dump() for c in citations_public(event.citations, event.language)
        ]
    return EventPublic(seq=recorded.seq, kind=event.kind, at=event.at, data=data)


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
    return TurnPublic(
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


def router(service: ConversationService) -> APIRouter:
    api = APIRouter(prefix="/api/conversations", tags=["conversations"])

    @api.post("", status_code=201, response_model=ConversationPublic, responses=ERROR_RESPONSES)
    def start(body: ConversationCreate | None = None) -> ConversationPublic:
        """Start a conversation."""
        body = body or ConversationCreate()
        return conversation_public(service.start(body.channel, body.customer_id, body.language))

    @api.post("/{conversation_id}/messages", response_model=TurnPublic, responses=ERROR_RESPONSES)
    def send(conversation_id: ConversationId, body: MessageCreate) -> TurnPublic:
        """Send the customer's message; the reply is the bot's turn (or `delivered` to a person)."""
        return turn_public(service.send(conversation_id, body.text))

    @api.get("/{conversation_id}", response_model=Transcript, responses=ERROR_RESPONSES)
    def transcript(conversation_id: ConversationId, after: Annotated[int, "seq"] = 0) -> Transcript:
        """The conversation and its events (only those after seq `after`, if given)."""
        conversation, events = service.transcript(conversation_id)
        return Transcript(
            conversation=conversation_public(conversation),
            events=[event_public(r) for r in events if r.seq > after],
        )

    @api.post("/{conversation_id}/handoff", response_model=EventPublic, responses=ERROR_RESPONSES)
    def handoff(conversation_id: ConversationId) -> EventPublic:
        """The customer asks for a person: the conversation joins the human queue."""
        return event_public(service.request_person(conversation_id))

    @api.post(
        "/{conversation_id}/feedback",
        status_code=201,
        response_model=EventPublic,
        responses=ERROR_RESPONSES,
    )
    def feedback(conversation_id: ConversationId, body: FeedbackCreate) -> EventPublic:
        """Did the answer help? (A yes counts as a confirmed resolution.)"""
        return event_public(service.feedback(conversation_id, body.helpful, body.turn_seq))

    @api.websocket("/{conversation_id}/events")
    async def stream(websocket: WebSocket, conversation_id: str, after: int = 0) -> None:
        """Every event of the conversation as JSON, from seq `after` on, live. A client that
        reconnects with the last seq it saw receives exactly what it missed."""
        # Accept before closing: a close before the handshake reaches a browser as HTTP 403
        # and close code 1006, never as 4404.
        await websocket.accept()
        try:
            await run_in_threadpool(service.store.get, conversation_id)
        except ConversationNotFound:
            await websocket.close(code=4404, reason="conversation_not_found")
            return

        async def push(listener: Listener) -> None:
            seen = after
            while True:
                events = await run_in_threadpool(service.store.events, conversation_id, seen)
                for recorded in events:
                    await websocket.send_json(event_public(recorded).model_dump(mode="json"))
                    seen = recorded.seq
                await listener.wait(STREAM_POLL_S)

        async def until_disconnected() -> None:
            # The client says nothing; reading is how its leaving (or a server shutdown) is
            # noticed. Without it a quiet conversation keeps its stream alive for ever.
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        with service.feed.listen(conversation_id) as listener:
            tasks = {asyncio.create_task(push(listener)), asyncio.create_task(until_disconnected())}
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                failure = task.exception()
                if failure is not None and not isinstance(failure, WebSocketDisconnect):
                    raise failure

    return api
