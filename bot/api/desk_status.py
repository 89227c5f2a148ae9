"""Who answers, and when: the opening hours (admins set them), the agents' presence (online,
away, offline) and the offline messages customers left while nobody was there."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.api.agents import TextCreate, agent_event
from bot.api.auth import requires
from bot.api.conversations import ConversationId, EventPublic
from bot.api.errors import ERROR_RESPONSES
from bot.api.fields import MAX_SEQ
from bot.desk.inbox import OfflineInbox, OfflineMessage
from bot.desk.presence import AgentPresence, PresenceStatus
from bot.desk.schedule import Staffing
from handoff.hours import HoursSettings

Seq = Annotated[int, Path(ge=1, le=MAX_SEQ, description="The offline message's seq")]


class HoursPublic(HoursSettings):
    open_now: bool = False
    next_open: datetime | None = None


class PresenceSet(BaseModel):
    status: Literal["online", "away"]


class PresencePublic(BaseModel):
    username: str
    status: PresenceStatus


class Presences(BaseModel):
    me: PresenceStatus
    agents: list[PresencePublic] = Field(description="Every agent with a console open")


class OfflineMessagePublic(BaseModel):
    conversation_id: str
    seq: int
    at: datetime
    text: str
    language: str
    email: str | None
    phone: str | None
    answered_by: str | None
    answered_at: datetime | None


class OfflineMessages(BaseModel):
    messages: list[OfflineMessagePublic]
    unanswered: int


def router(
    accounts: Accounts, staffing: Staffing, presence: AgentPresence, inbox: OfflineInbox
) -> APIRouter:
    agent = Depends(requires(accounts, Role.AGENT))
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(tags=["desk"], responses=ERROR_RESPONSES)

    def hours_public(hours: HoursSettings) -> HoursPublic:
        available = staffing.now()
        return HoursPublic(
            **hours.model_dump(), open_now=available.open_now, next_open=available.next_open
        )

    @api.get("/api/admin/hours", response_model=HoursPublic)
    def get_hours(_: User = admin) -> HoursPublic:
        """The opening hours (the settings' until an admin saves some), and open now or not."""
        return hours_public(staffing.hours.get())

    @api.put("/api/admin/hours", response_model=HoursPublic)
    def put_hours(body: HoursSettings, user: User = admin) -> HoursPublic:
        """Replace the opening hours: time zone, spans per weekday, holidays."""
        return hours_public(staffing.hours.put(body, user.username))

    def presences(user: User) -> Presences:
        return Presences(
            me=presence.status(user.username),
            agents=[
                PresencePublic(username=name, status=status)
                for name, status in presence.everyone().items()
                if staffing.may_answer(name)  # a deactivated agent's console is nobody's
            ],
        )

    @api.get("/api/agent/presence", response_model=Presences)
    def get_presence(user: User = agent) -> Presences:
        """One's own presence and every agent's with a console open."""
        return presences(user)

    @api.put("/api/agent/presence", response_model=Presences)
    def set_presence(body: PresenceSet, user: User = agent) -> Presences:
        """Say one is away, or back (online needs an open console)."""
        presence.set_away(user.username, body.status == "away")
        return presences(user)

    @api.get("/api/agent/offline-messages", response_model=OfflineMessages)
    def offline_messages(
        days: Annotated[int, Query(ge=1, le=366)] = 30, _: User = agent
    ) -> OfflineMessages:
        """Messages customers left while nobody was there: unanswered first, oldest first."""
        found = [message_public(m) for m in inbox.messages(days)]
        return OfflineMessages(messages=found, unanswered=sum(m.answered_at is None for m in found))

    @api.post(
        "/api/agent/offline-messages/{conversation_id}/{seq}/reply",
        status_code=201,
        response_model=EventPublic,
    )
    def answer(
        conversation_id: ConversationId, seq: Seq, body: TextCreate, user: User = agent
    ) -> EventPublic:
        """Answer an offline message: the reply appears in the customer's conversation."""
        return agent_event(inbox.answer(conversation_id, seq, user, body.text))

    return api


def message_public(m: OfflineMessage) -> OfflineMessagePublic:
    return OfflineMessagePublic(**m.__dict__)
