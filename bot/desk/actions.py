"""The agents' desk: claim a waiting conversation, reply, write private notes, resolve it or
hand it back to the bot, assign it (an admin), transfer it to a colleague with a note, put it
back in the queue, and save a reply as a knowledge draft.

Every action is an event in the conversation's log. Claiming is one atomic compare-and-set on
the status (waiting → with_agent), so of two agents claiming at once exactly one wins.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.access.accounts import Role, User
from bot.conversation.events import (
    AgentNoted,
    AgentReplied,
    AgentSentImage,
    KnowledgeDraftSaved,
    Recorded,
)
from bot.conversation.flows import (
    Actor,
    AgentAssigned,
    AgentTransferred,
    AssignedToAgent,
    ConversationResolved,
    ReturnedToBot,
    Transition,
    Unassigned,
)
from bot.conversation.service import ConversationService
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.conversation.store import Conversation, StatusConflict
from bot.conversation.views import claimer_name
from knowledge.drafts import Draft, KnowledgeDrafts

MAX_TEXT_CHARS = 4000


class AlreadyClaimed(Exception):
    def __init__(self, agent: str, agent_name: str) -> None:
        super().__init__(f"{agent_name} has already claimed this conversation")
        self.agent = agent
        self.agent_name = agent_name


class NotWaiting(Exception):
    def __init__(self, status: ConversationStatus) -> None:
        super().__init__(f"the conversation is {status}, not waiting")
        self.status = status


class NotAssignee(Exception):
    def __init__(self) -> None:
        super().__init__("the conversation is not yours; claim it first")


class AssignRefused(Exception):
    """A conversation cannot go to that person; `code` has texts of its own (error_<code>)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AgentDesk:
    def __init__(
        self,
        conversations: ConversationService,
        drafts: KnowledgeDrafts,
        colleague: Callable[[str], User | None] = lambda _: None,
    ) -> None:
        self.conversations = conversations
        self.store = conversations.store
        self.flows = conversations.flows
        self.drafts = drafts
        self._colleague = colleague  # an account by username

    def assign(self, conversation_id: str, admin: User, to: str) -> Conversation:
        """An admin gives the conversation to an agent: a waiting one is assigned, one that
        an agent has is transferred."""
        if admin.role != Role.ADMIN:
            raise NotAssignee()
        target = self._target(to)
        with self.conversations.lock_for(conversation_id):
            current = self.store.get(conversation_id)
            if current.status == ConversationStatus.WITH_AGENT:
                return self._transfer(conversation_id, admin, target, "")
            if current.status != ConversationStatus.WAITING:
                raise NotWaiting(current.status)
            self.flows.apply(conversation_id, AssignedToAgent(_actor(admin), agent=_actor(target)))
        return self.store.get(conversation_id)

    def transfer(self, conversation_id: str, agent: User, to: str, note: str = "") -> Conversation:
        """The agent who has the conversation (or an admin) passes it to a colleague; the note,
        if any, is a private note for them."""
        target = self._target(to)
        with self.conversations.lock_for(conversation_id):
            return self._transfer(conversation_id, agent, target, note)

    def unassign(self, conversation_id: str, agent: User) -> Conversation:
        """Back into the queue (waiting, nobody has it): its agent or an admin."""
        with self.conversations.lock_for(conversation_id):
            self._owner_or_admin(conversation_id, agent, ConversationStatus.WAITING)
            self.flows.apply(conversation_id, Unassigned(_actor(agent)))
        return self.store.get(conversation_id)

    def _transfer(self, conversation_id: str, agent: User, target: User, note: str) -> Conversation:
        note = note.strip()
        if note:
            note = _text(note)
        current = self._owner_or_admin(conversation_id, agent, ConversationStatus.WITH_AGENT)
        if current.assignee == target.username:
            raise AssignRefused("already_theirs", f"{target.username} has it already")
        self.flows.apply(conversation_id, AgentTransferred(_actor(agent), agent=_actor(target)))
        if note:
            self.note(conversation_id, agent, note)
        return self.store.get(conversation_id)

    def _owner_or_admin(
        self, conversation_id: str, agent: User, to: ConversationStatus
    ) -> Conversation:
        current = self.store.get(conversation_id)
        if current.status != ConversationStatus.WITH_AGENT:
            raise InvalidTransition(current.status, to)
        if current.assignee != agent.username and agent.role != Role.ADMIN:
            raise NotAssignee()
        return current

    def _target(self, username: str) -> User:
        user = self._colleague(username)
        if user is None or not user.may(Role.AGENT):
            raise AssignRefused("agent_not_found", f"no agent {username!r}")
        return user

    def claim(self, conversation_id: str, agent: User) -> Conversation:
        try:
            self.flows.apply(conversation_id, AgentAssigned(_actor(agent)))
        except StatusConflict as conflict:
            current = self.store.get(conversation_id)
            if conflict.actual == ConversationStatus.WITH_AGENT and current.assignee:
                name = claimer_name(current, self.store.events(conversation_id))
                raise AlreadyClaimed(current.assignee, name or current.assignee) from None
            raise NotWaiting(conflict.actual) from None
        return self.store.get(conversation_id)

    def reply(self, conversation_id: str, agent: User, text: str) -> Recorded:
        text = _text(text)
        with self.conversations.lock_for(conversation_id):
            self._own(conversation_id, agent)
            recorded = self.store.append(
                AgentReplied(
                    conversation_id=conversation_id,
                    text=text,
                    agent=agent.username,
                    agent_name=agent.display_name,
                )
            )
        self._changed(conversation_id)
        return recorded

    def send_image(self, conversation_id: str, agent: User, data: bytes) -> Recorded:
        """Send the customer a picture (only the agent who has the conversation); ImageRefused
        when it is no image kefu keeps."""
        attachments = self.conversations.attachments
        if attachments is None:
            raise ValueError("pictures are not kept here")
        with self.conversations.lock_for(conversation_id):
            self._own(conversation_id, agent)
            stored = attachments.accept(conversation_id, data)
            recorded = self.store.append(
                AgentSentImage(
                    conversation_id=conversation_id,
                    agent=agent.username,
                    agent_name=agent.display_name,
                    **stored.event_fields(),
                )
            )
        self._changed(conversation_id)
        return recorded

    def note(self, conversation_id: str, agent: User, text: str) -> Recorded:
        """A private note: any agent may leave one; the customer never sees it."""
        recorded = self.store.append(
            AgentNoted(
                conversation_id=conversation_id,
                text=_text(text),
                agent=agent.username,
                agent_name=agent.display_name,
            )
        )
        self._changed(conversation_id)
        return recorded

    def resolve(self, conversation_id: str, agent: User) -> Conversation:
        return self._move(conversation_id, agent, ConversationResolved)

    def return_to_bot(self, conversation_id: str, agent: User) -> Conversation:
        return self._move(conversation_id, agent, ReturnedToBot)

    def typing(self, conversation_id: str, agent: User) -> None:
        self.store.get(conversation_id)  # an unknown id is an error, not a silent no-op
        self.conversations.feed.signal(
            conversation_id,
            {"kind": "typing", "data": {"role": "agent", "name": agent.display_name}},
            sender_role="agent",
        )

    def save_draft(
        self, agent: User, question: str, answer: str, conversation_id: str | None = None
    ) -> Draft:
        language = None
        if conversation_id is not None:
            language = self.store.get(conversation_id).language
        draft = self.drafts.add(
            question, answer, agent.username, language=language, conversation_id=conversation_id
        )
        if conversation_id is not None:
            self.store.append(
                KnowledgeDraftSaved(
                    conversation_id=conversation_id,
                    draft_id=draft.id,
                    question=draft.question,
                    answer=draft.answer,
                    agent=agent.username,
                    agent_name=agent.display_name,
                )
            )
            self._changed(conversation_id)
        return draft

    def _move(
        self,
        conversation_id: str,
        agent: User,
        move: type[ConversationResolved] | type[ReturnedToBot],
    ) -> Conversation:
        """Resolve or return: the owner may, and so may an admin; a waiting conversation
        (nobody owns it yet) any agent may."""
        with self.conversations.lock_for(conversation_id):
            current = self.store.get(conversation_id)
            if current.status == ConversationStatus.WITH_AGENT:
                if current.assignee != agent.username and agent.role != Role.ADMIN:
                    raise NotAssignee()
            elif current.status != ConversationStatus.WAITING:
                raise InvalidTransition(current.status, move.to)
            transition: Transition = move(_actor(agent), expected=current.status)
            self.flows.apply(conversation_id, transition)
        return self.store.get(conversation_id)

    def _own(self, conversation_id: str, agent: User) -> None:
        current = self.store.get(conversation_id)
        if current.status != ConversationStatus.WITH_AGENT or current.assignee != agent.username:
            raise NotAssignee()

    def _changed(self, conversation_id: str) -> None:
        self.conversations.feed.notify(conversation_id)


def _actor(agent: User) -> Actor:
    return Actor.agent(agent.username, agent.display_name)


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("the message is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"the message is longer than {MAX_TEXT_CHARS} characters")
    return text
