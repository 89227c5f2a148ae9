"""The agents' API: the live queue, the handoff packet, claim, reply, notes, resolve, return to
the bot, canned replies from the knowledge base, and knowledge drafts. Login required."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.answering.extract import citation_label
from bot.api.auth import requires, websocket_user
from bot.api.conversations import (
    After,
    ConversationId,
    ConversationPublic,
    EventPublic,
    event_public,
    stream_events,
    until_client_leaves,
    with_place,
)
from bot.api.errors import ERROR_RESPONSES
from bot.api.fields import ExactText, PlainText, SaidText
from bot.conversation.events import Citation, Recorded
from bot.conversation.feed import QUEUE
from bot.conversation.store import ConversationNotFound
from bot.desk.actions import AgentDesk
from bot.desk.packet import PacketBuilder
from bot.desk.presence import AgentPresence
from bot.desk.queue import HumanQueue, QueueEntry
from knowledge.drafts import Draft
from knowledge.retriever import HybridRetriever

STREAM_POLL_S = 15.0


class QueueEntryPublic(BaseModel):
    id: str
    status: str
    priority: float
    queue_position: int | None
    waiting_since: datetime | None
    waited_s: float
    trigger: str | None
    trigger_value: float | str | None
    sentiment: float | None
    last_message: str | None
    language: str | None
    channel: str
    customer_id: str | None
    customer_hint: str | None = Field(
        default=None, description="A customer id the customer gave, not verified by the shop"
    )
    agent: str | None
    agent_name: str | None
    tags: list[str]


class QueuePublic(BaseModel):
    conversations: list[QueueEntryPublic]


class PacketPublic(BaseModel):
    trigger: str | None
    trigger_value: float | str | None
    question: str | None
    sentiment: list[dict[str, Any]]
    retrieved: list[dict[str, Any]]
    customer: dict[str, Any]
    suggested_reply: dict[str, Any] | None
    signals: dict[str, Any]


class AgentView(BaseModel):
    conversation: ConversationPublic
    events: list[EventPublic]
    packet: PacketPublic


class TextCreate(BaseModel):
    text: SaidText = Field(min_length=1, max_length=4000)


class Suggestion(BaseModel):
    item_id: str
    question: str | None
    answer: str
    source: str
    locator: str
    label: str
    score: float


class Suggestions(BaseModel):
    hits: list[Suggestion]


class DraftCreate(BaseModel):
    conversation_id: ExactText | None = Field(default=None, max_length=64)
    question: PlainText = Field(max_length=4000)
    answer: PlainText = Field(max_length=4000)


class DraftPublic(BaseModel):
    id: str
    question: str
    answer: str
    language: str | None
    conversation_id: str | None
    status: str
    created_by: str
    created_at: datetime


def entry_public(e: QueueEntry) -> QueueEntryPublic:
    c = e.conversation
    return QueueEntryPublic(
        id=c.id,
        status=c.status.value,
        priority=e.priority,
        queue_position=e.position,
        waiting_since=e.waiting_since,
        waited_s=e.waited_s,
        trigger=e.trigger,
        trigger_value=e.trigger_value,
        sentiment=e.sentiment,
        last_message=e.last_message,
        language=c.language,
        channel=c.channel,
        customer_id=c.customer_id,
        customer_hint=c.customer_hint,
        agent=e.agent,
        agent_name=e.agent_name,
        tags=list(e.tags),
    )


def draft_public(d: Draft) -> DraftPublic:
    return DraftPublic(
        id=d.id,
        question=d.question,
        answer=d.answer,
        language=d.language,
        conversation_id=d.conversation_id,
        status=d.status.value,
        created_by=d.created_by,
        created_at=d.created_at,
    )


def agent_event(recorded: Recorded) -> EventPublic:
    return event_public(recorded, for_agent=True)


def router(
    accounts: Accounts,
    desk: AgentDesk,
    queue: HumanQueue,
    packets: PacketBuilder,
    retriever: HybridRetriever,
    presence: AgentPresence | None = None,
) -> APIRouter:
    agent = Depends(requires(accounts, Role.AGENT))
    api = APIRouter(prefix="/api/agent", tags=["agents"], responses=ERROR_RESPONSES)
    store = desk.store

    def view(conversation_id: str) -> AgentView:
        conversation = store.get(conversation_id)
        events = store.events(conversation_id)
        packet = packets.build(conversation, events)
        return AgentView(
            conversation=with_place(conversation, events, queue),
            events=[agent_event(r) for r in events],
            packet=PacketPublic(**packet.__dict__),
        )

    @api.get("/queue", response_model=QueuePublic)
    def the_queue(_: User = agent) -> QueuePublic:
        """Waiting conversations by priority, then by wait; then those with an agent."""
        return QueuePublic(conversations=[entry_public(e) for e in queue.entries()])

    @api.get("/conversations/{conversation_id}", response_model=AgentView)
    def conversation(conversation_id: ConversationId, _: User = agent) -> AgentView:
        """The whole conversation, private events included, and the handoff packet."""
        return view(conversation_id)

    @api.post("/conversations/{conversation_id}/claim", response_model=ConversationPublic)
    def claim(conversation_id: ConversationId, user: User = agent) -> ConversationPublic:
        """Take a waiting conversation. Of two agents claiming at once exactly one wins; the
        other gets 409 status_conflict naming the winner."""
        claimed = desk.claim(conversation_id, user)
        return with_place(claimed, store.events(conversation_id), queue)

    @api.post(
        "/conversations/{conversation_id}/messages", status_code=201, response_model=EventPublic
    )
    def reply(conversation_id: ConversationId, body: TextCreate, user: User = agent) -> EventPublic:
        """Reply to the customer (only the agent who claimed the conversation)."""
        return agent_event(desk.reply(conversation_id, user, body.text))

    @api.post("/conversations/{conversation_id}/notes", status_code=201, response_model=EventPublic)
    def note(conversation_id: ConversationId, body: TextCreate, user: User = agent) -> EventPublic:
        """A private note for other agents; the customer never sees it."""
        return agent_event(desk.note(conversation_id, user, body.text))

    @api.post("/conversations/{conversation_id}/typing", status_code=204)
    def typing(conversation_id: ConversationId, user: User = agent) -> None:
        desk.typing(conversation_id, user)

    @api.post("/conversations/{conversation_id}/resolve", response_model=ConversationPublic)
    def resolve(conversation_id: ConversationId, user: User = agent) -> ConversationPublic:
        """Close the conversation; the customer is offered the survey."""
        return with_place(desk.resolve(conversation_id, user), [], queue)

    @api.post("/conversations/{conversation_id}/return-to-bot", response_model=ConversationPublic)
    def return_to_bot(conversation_id: ConversationId, user: User = agent) -> ConversationPublic:
        """Hand the conversation back to the bot."""
        return with_place(desk.return_to_bot(conversation_id, user), [], queue)

    @api.get("/suggestions", response_model=Suggestions)
    def suggestions(
        q: Annotated[str, Query(min_length=1, max_length=500)],
        k: Annotated[int, Query(ge=1, le=20)] = 5,
        _: User = agent,
    ) -> Suggestions:
        """Canned replies: the knowledge base's items closest to `q`."""
        hits = []
        for hit in retriever.search(q, k):
            question = hit.metadata.get("question")
            answer = hit.metadata.get("answer") or hit.text
            cited = Citation(hit.id, hit.source, hit.locator, hit.text[:300])
            language = "en" if hit.metadata.get("language") == "en" else "zh"
            hits.append(
                Suggestion(
                    item_id=hit.id,
                    question=question,
                    answer=answer,
                    source=hit.source,
                    locator=hit.locator,
                    label=citation_label(cited, language),
                    score=round(hit.score, 4),
                )
            )
        return Suggestions(hits=hits)

    @api.post("/drafts", status_code=201, response_model=DraftPublic)
    def save_draft(body: DraftCreate, user: User = agent) -> DraftPublic:
        """Save a question and an answer as a knowledge draft, for an admin to approve."""
        return draft_public(desk.save_draft(user, body.question, body.answer, body.conversation_id))

    @api.websocket("/queue/events")
    async def queue_stream(websocket: WebSocket) -> None:
        """The queue at once, then again whenever it changes. An open queue stream is an open
        console: its agent is online while it sends {"type": "active"} now and then (on the
        agent's activity), away after a while without, offline once their last one closes."""
        await websocket.accept()
        user = await websocket_user(websocket, accounts, Role.AGENT)
        if user is None:
            return

        async def push() -> None:
            with desk.conversations.feed.listen(QUEUE, "agent") as listener:
                last: Any = None
                while True:
                    entries = await run_in_threadpool(queue.entries)
                    data = QueuePublic(conversations=[entry_public(e) for e in entries])
                    snapshot = data.model_dump(mode="json")
                    if snapshot != last:
                        await websocket.send_json({"kind": "queue", "data": snapshot})
                        last = snapshot
                    await listener.wait(STREAM_POLL_S)

        def on_text(text: str) -> None:
            if presence is not None and '"active"' in text[:100]:
                presence.active(user.username)

        console = presence.console_opened(user.username) if presence is not None else ""
        desk.conversations.queue_changed()  # the widgets' "someone is there" may change
        try:
            await until_client_leaves(websocket, push, on_text)
        finally:
            if presence is not None:
                presence.console_closed(user.username, console)

    @api.websocket("/conversations/{conversation_id}/events")
    async def conversation_stream(
        websocket: WebSocket, conversation_id: ConversationId, after: After = 0
    ) -> None:
        """Every event of the conversation (private ones too), live, and the customer's
        typing. Reconnect with the last seq seen to get exactly what was missed."""
        await websocket.accept()
        user = await websocket_user(websocket, accounts, Role.AGENT)
        if user is None:
            return
        try:
            await run_in_threadpool(store.get, conversation_id)
        except ConversationNotFound:
            await websocket.close(code=4404, reason="conversation_not_found")
            return
        await stream_events(
            websocket,
            desk.conversations,
            conversation_id,
            after,
            role="agent",
            visible=lambda _: True,
            present=agent_event,
            on_typing=lambda: desk.typing(conversation_id, user),
        )

    return api
