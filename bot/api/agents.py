"""The agents' API: the live queue, the handoff packet, claim, reply, notes, resolve, return to
the bot, assignment and transfer, canned replies from the knowledge base, the team's saved
replies, the history of every conversation, and knowledge drafts. Login required."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.answering.extract import citation_label
from bot.api.attachments import (
    IMAGE_RESPONSES,
    UPLOAD_BODY,
    UPLOAD_RESPONSES,
    picture,
    upload,
)
from bot.api.auth import requires, websocket_user
from bot.api.conversations import (
    After,
    AttachmentId,
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
from bot.conversation.status import ConversationStatus
from bot.conversation.store import ConversationNotFound, ConversationQuery
from bot.conversation.views import shared_image
from bot.desk.actions import AgentDesk
from bot.desk.assignment import AutoAssignment
from bot.desk.history import ConversationHistory, HistoryEntry
from bot.desk.packet import PacketBuilder
from bot.desk.presence import AgentPresence
from bot.desk.queue import HumanQueue, QueueEntry
from bot.desk.saved_replies import SavedReplies, SavedReply
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
    customer_messages: int


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
    pictures: list[dict[str, Any]] = Field(
        default=[], description="The pictures the customer sent in this conversation"
    )


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


class AgentPublic(BaseModel):
    username: str
    display_name: str
    role: str
    online: bool  # has a console open
    in_hand: int  # conversations they have now


class AgentsPublic(BaseModel):
    agents: list[AgentPublic]


class AssignBody(BaseModel):
    agent: ExactText = Field(min_length=1, max_length=64, description="The agent's username")


class TransferBody(AssignBody):
    note: PlainText = Field(default="", max_length=4000, description="A private note for them")


class HistoryEntryPublic(BaseModel):
    id: str
    status: str
    channel: str
    customer_id: str | None
    language: str | None
    created_at: datetime
    updated_at: datetime
    first_message: str | None
    last_message: str | None
    tags: list[str]
    agent: str | None
    agent_name: str | None


class HistoryPublic(BaseModel):
    conversations: list[HistoryEntryPublic]
    total: int
    limit: int
    offset: int


class SavedReplyPublic(BaseModel):
    id: str
    shortcut: str
    title: str
    text: str
    language: str
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class SavedRepliesPublic(BaseModel):
    replies: list[SavedReplyPublic]


# generous bounds: the store checks the real ones and says which, in both languages
class SavedReplyCreate(BaseModel):
    shortcut: ExactText = Field(max_length=200)
    title: PlainText = Field(max_length=10_000)
    text: PlainText = Field(max_length=10_000)
    language: Literal["zh", "en"] = "zh"


class SavedReplyEdit(BaseModel):
    shortcut: ExactText | None = Field(default=None, max_length=200)
    title: PlainText | None = Field(default=None, max_length=10_000)
    text: PlainText | None = Field(default=None, max_length=10_000)
    language: Literal["zh", "en"] | None = None


def saved_reply_public(r: SavedReply) -> SavedReplyPublic:
    return SavedReplyPublic(**r.__dict__)


def history_public(e: HistoryEntry) -> HistoryEntryPublic:
    c = e.conversation
    return HistoryEntryPublic(
        id=c.id,
        status=c.status.value,
        channel=c.channel,
        customer_id=c.customer_id,
        language=c.language,
        created_at=c.created_at,
        updated_at=c.updated_at,
        first_message=e.first_message,
        last_message=e.last_message,
        tags=list(e.tags),
        agent=e.agent,
        agent_name=e.agent_name,
    )


def _aware(at: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


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
        customer_messages=e.customer_messages,
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
    presence: AgentPresence,
    saved: SavedReplies,
    history: ConversationHistory,
    assignment: AutoAssignment,
) -> APIRouter:
    agent = Depends(requires(accounts, Role.AGENT))
    admin = Depends(requires(accounts, Role.ADMIN))
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

    @api.get("/conversations/search", response_model=HistoryPublic)
    def search_history(
        customer_id: Annotated[str | None, Query(max_length=255)] = None,
        q: Annotated[str | None, Query(max_length=500, description="Words in a message")] = None,
        tag: Annotated[str | None, Query(max_length=200)] = None,
        status: ConversationStatus | None = None,
        channel: Annotated[str | None, Query(max_length=64)] = None,
        start: Annotated[
            datetime | None, Query(description="Started at or after (ISO; no zone = UTC)")
        ] = None,
        end: Annotated[datetime | None, Query(description="Started before")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        _: User = agent,
    ) -> HistoryPublic:
        """Every conversation, resolved ones too, by customer, words, tag, status, channel and
        the time it started; the most recently active first, a page at a time."""
        start, end = _aware(start), _aware(end)
        query = ConversationQuery(
            customer_id=customer_id.strip() or None if customer_id else None,
            text=q.strip() or None if q else None,
            status=status,
            channel=channel.strip() or None if channel else None,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )
        page = history.search(query, tag.strip() if tag else None)
        return HistoryPublic(
            conversations=[history_public(e) for e in page.entries],
            total=page.total,
            limit=limit,
            offset=offset,
        )

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

    @api.post(
        "/conversations/{conversation_id}/images",
        status_code=201,
        response_model=EventPublic,
        responses=UPLOAD_RESPONSES,
        openapi_extra=UPLOAD_BODY,
    )
    async def send_image(
        conversation_id: ConversationId, request: Request, user: User = agent
    ) -> EventPublic:
        """Send the customer a picture (only the agent who has the conversation); the body is
        the image's bytes, checked as a customer's are."""
        data = await upload(request, desk.conversations.attachments)
        recorded = await run_in_threadpool(desk.send_image, conversation_id, user, data)
        return agent_event(recorded)

    @api.get(
        "/conversations/{conversation_id}/attachments/{attachment_id}",
        response_class=Response,
        responses=IMAGE_RESPONSES,
    )
    def attachment(
        conversation_id: ConversationId, attachment_id: AttachmentId, _: User = agent
    ) -> Response:
        """A picture sent in the conversation, by its customer or an agent."""
        event = shared_image(store.events(conversation_id), attachment_id)
        return picture(desk.conversations.attachments, event, attachment_id)

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

    @api.get("/agents", response_model=AgentsPublic)
    def agents(_: User = agent) -> AgentsPublic:
        """Everyone who may take a conversation, whether they have a console open, and how
        many conversations they have now."""
        online = set(presence.online())
        in_hand: dict[str, int] = {}
        for c in store.conversations(ConversationStatus.WITH_AGENT):
            if c.assignee:
                in_hand[c.assignee] = in_hand.get(c.assignee, 0) + 1
        return AgentsPublic(
            agents=[
                AgentPublic(
                    username=u.username,
                    display_name=u.display_name,
                    role=u.role.value,
                    online=u.username in online,
                    in_hand=in_hand.get(u.username, 0),
                )
                for u in accounts.list()
                if u.may(Role.AGENT) and u.active
            ]
        )

    @api.post("/conversations/{conversation_id}/assign", response_model=ConversationPublic)
    def assign(
        conversation_id: ConversationId, body: AssignBody, user: User = admin
    ) -> ConversationPublic:
        """Admins: give a waiting conversation to an agent (or move one an agent has)."""
        assigned = desk.assign(conversation_id, user, body.agent)
        return with_place(assigned, store.events(conversation_id), queue)

    @api.post("/conversations/{conversation_id}/transfer", response_model=ConversationPublic)
    def transfer(
        conversation_id: ConversationId, body: TransferBody, user: User = agent
    ) -> ConversationPublic:
        """Pass a conversation you have (any, for an admin) to a colleague, with a private
        note for them."""
        moved = desk.transfer(conversation_id, user, body.agent, body.note)
        return with_place(moved, store.events(conversation_id), queue)

    @api.post("/conversations/{conversation_id}/unassign", response_model=ConversationPublic)
    def unassign(conversation_id: ConversationId, user: User = agent) -> ConversationPublic:
        """Put a conversation you have (any, for an admin) back in the queue."""
        back = desk.unassign(conversation_id, user)
        return with_place(back, store.events(conversation_id), queue)

    @api.get("/saved-replies", response_model=SavedRepliesPublic)
    def saved_replies(
        q: Annotated[str, Query(max_length=200)] = "",
        language: Literal["zh", "en"] | None = None,
        shortcut: Annotated[
            bool, Query(description="Match the shortcut's start only (the /shortcut menu)")
        ] = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        _: User = agent,
    ) -> SavedRepliesPublic:
        """The team's saved replies: those whose shortcut starts with `q` first, then those
        whose title or text holds it; `language` puts that language first."""
        found = saved.search(q, language=language, shortcut_only=shortcut, limit=limit)
        return SavedRepliesPublic(replies=[saved_reply_public(r) for r in found])

    @api.post("/saved-replies", status_code=201, response_model=SavedReplyPublic)
    def add_saved_reply(body: SavedReplyCreate, user: User = agent) -> SavedReplyPublic:
        """A new saved reply; its shortcut (without the slash) is unique in the team."""
        added = saved.add(body.shortcut, body.title, body.text, body.language, user.username)
        return saved_reply_public(added)

    @api.patch("/saved-replies/{reply_id}", response_model=SavedReplyPublic)
    def edit_saved_reply(
        reply_id: ConversationId, body: SavedReplyEdit, user: User = agent
    ) -> SavedReplyPublic:
        """Change any of a saved reply's fields."""
        return saved_reply_public(
            saved.edit(
                reply_id,
                user.username,
                shortcut=body.shortcut,
                title=body.title,
                text=body.text,
                language=body.language,
            )
        )

    @api.delete("/saved-replies/{reply_id}", status_code=204)
    def delete_saved_reply(reply_id: ConversationId, _: User = agent) -> None:
        saved.delete(reply_id)

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
                    # a console whose session ended (logged out elsewhere, deactivated)
                    # closes with 4401 and stops counting as its agent being there
                    if await websocket_user(websocket, accounts, Role.AGENT) is None:
                        return

        def on_text(text: str) -> None:
            if '"active"' in text[:100]:
                presence.active(user.username)

        # an open console is what makes an agent online (bot.desk.presence); one arriving
        # takes the waiting conversations auto-assignment holds for them
        arriving = user.username not in presence.online()
        console = presence.console_opened(user.username)
        desk.conversations.queue_changed()  # the widgets' "someone is there" may change
        try:
            if arriving:
                await run_in_threadpool(assignment.agent_arrived, user.username)
            await until_client_leaves(websocket, push, on_text)
        finally:
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
