"""Between the platforms and the conversation service: every channel's events become customer
messages of one conversation per (channel, customer) while it is open, and everything the
customer should hear goes back out through that channel.

- A webhook is only accepted here: each event is recorded (a redelivery is dropped, also after
  a restart) and queued, and the platform gets its 200 at once. The events of one customer are
  handled one after another, in order; different customers' in parallel.
- What goes out is read from the conversation's log after its delivery cursor, so nothing is
  sent twice and nothing is skipped: the bot's turn to a message goes with that message's reply
  token (LINE: free); an agent's reply, a resolution's survey, a return to the bot, which
  happen later in the agents' console, go by push. The relay hears of them from the event feed
  (`EventFeed.watch`), the same signal that wakes the widget's stream.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

from bot.answering import texts as bot_texts
from bot.answering.texts import Language
from bot.attachments.images import ImageRefused
from bot.channels import messages
from bot.channels.base import Channel, Inbound, InboundKind, Outgoing
from bot.channels.records import ChannelRecords, Contact
from bot.channels.texts import say
from bot.conversation.flows import CUSTOMER, ReturnedToBot
from bot.conversation.service import ConversationService, MessageRejected, SurveyRefused
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.conversation.store import Conversation, ConversationNotFound, StatusConflict
from bot.customers.identities import CustomerIdentities, LinkRefused, read_code

log = logging.getLogger(__name__)

# Conversation ids known not to be carried on a channel (the widget's): not looked up again.
NOT_CARRIED_KEPT = 10_000


class Lanes:
    """Jobs of one key run one after another, in the order given; jobs of different keys run
    in parallel on a small pool."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="channel")
        self._queued: dict[Hashable, deque[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def submit(self, key: Hashable, job: Callable[[], None]) -> None:
        with self._lock:
            queued = self._queued.get(key)
            if queued is not None:
                queued.append(job)  # the key's running drain takes it
                return
            self._queued[key] = deque([job])
        self._pool.submit(self._drain, key)

    def _drain(self, key: Hashable) -> None:
        while True:
            with self._lock:
                queued = self._queued[key]
                if not queued:
                    del self._queued[key]
                    return
                job = queued.popleft()
            try:
                job()
            except Exception:
                log.exception("channel.job.failed")

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class ChannelRelay:
    def __init__(
        self,
        service: ConversationService,
        records: ChannelRecords,
        channels: Mapping[str, Channel],
        position: Callable[[str], int | None],
        workers: int = 4,
        identities: CustomerIdentities | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.records = records
        self.channels = dict(channels)
        self._position = position
        self.identities = identities
        self._lanes = Lanes(workers)
        self._guard = threading.Lock()
        self._carried: set[str] = set()
        self._not_carried: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[str] = set()
        self._dirty: set[str] = set()
        self._delivering: weakref.WeakValueDictionary[str, threading.RLock] = (
            weakref.WeakValueDictionary()
        )

    def channel(self, name: str) -> Channel | None:
        """The channel if it is on (its settings are given), else None."""
        return self.channels.get(name)

    def close(self) -> None:
        self._lanes.close()
        for channel in self.channels.values():
            channel.close()

    # --- what arrives ---

    def accept(self, inbound: Sequence[Inbound]) -> int:
        """Queue the events of a verified webhook; a redelivered event is dropped. Returns how
        many were queued."""
        queued = 0
        for event in inbound:
            if event.event_id and not self.records.first_time(event.channel, event.event_id):
                log.info("channel.event.redelivered channel=%s", event.channel)
                continue
            self._lanes.submit((event.channel, event.sender_id), partial(self.handle, event))
            queued += 1
        return queued

    def handle(self, inbound: Inbound) -> None:
        """One event of one customer: the conversation service decides, the channel tells."""
        if inbound.kind == InboundKind.TEXT:
            self._text(inbound)
        elif inbound.kind == InboundKind.POSTBACK:
            self._postback(inbound)
        elif inbound.kind == InboundKind.FOLLOW:
            contact = self._contact(inbound, following=True)
            greeting = bot_texts.say("greeting", _lang(contact))
            self._send(inbound, [Outgoing(greeting)])
        elif inbound.kind == InboundKind.IMAGE:
            self._picture(inbound)
        elif inbound.kind == InboundKind.UNFOLLOW:
            self.records.save_contact(inbound.channel, inbound.sender_id, following=False)
            log.info("channel.unfollowed channel=%s", inbound.channel)
        else:
            self._unreadable(inbound)

    def _text(self, inbound: Inbound) -> None:
        if self.identities is not None and self._linking(inbound, self.identities):
            return
        conversation = self._open_conversation(inbound, create=True)
        assert conversation is not None
        extra: list[Outgoing] = []
        with self._handling(conversation.id):
            try:
                self.service.send(conversation.id, inbound.text)
            except MessageRejected as rejected:
                language = self._language(conversation)
                extra.append(Outgoing(bot_texts.say(rejected.key, language, **rejected.values)))
            self.deliver(conversation.id, inbound, extra)

    def _picture(self, inbound: Inbound) -> None:
        """A picture: downloaded from the platform into the conversation, where the agents
        see it as they see the widget's; the bot, which reads no pictures, offers a person.
        One the platform cannot give (or pictures being off) gets the polite answer."""
        channel = self.channels.get(inbound.channel)
        attachments = self.service.attachments
        data = None
        if channel is not None and attachments is not None:
            data = channel.content(inbound, attachments.max_bytes)
        if data is None:
            self._unreadable(inbound)
            return
        conversation = self._open_conversation(inbound, create=True)
        assert conversation is not None
        language = self._language(conversation)
        extra: list[Outgoing] = []
        with self._handling(conversation.id):
            try:
                self.service.send_image(conversation.id, data)
            except ImageRefused as refused:
                extra.append(Outgoing(bot_texts.say(refused.key, language, **refused.values)))
            else:
                if self.store.get(conversation.id).status == ConversationStatus.BOT:
                    said = say("picture_for_person", language)
                    extra.append(Outgoing(said, (messages.talk_to_person(language),)))
            self.deliver(conversation.id, inbound, extra)

    def _linking(self, inbound: Inbound, identities: CustomerIdentities) -> bool:
        """A request for a linking code, or a code from another channel: answered here, never
        passed to the bot. False for any other message."""
        digits = read_code(inbound.text)
        asked = " ".join(inbound.text.lower().split()) in (
            say("link_request", "zh"),
            say("link_request", "en"),
        )
        if digits is None and not asked:
            return False
        conversation = self._open_conversation(inbound, create=False)
        contact = self._contact(inbound)
        language = self._language(conversation) if conversation else _lang(contact)
        if digits is None:
            issued = identities.issue_code(_customer_id(inbound))
            said = say("link_code", language, code=issued.code)
        else:
            try:
                identities.redeem(_customer_id(inbound), digits)
                said = say("linked", language)
                log.info("channel.identity.linked channel=%s", inbound.channel)
            except LinkRefused as refused:
                said = say(f"link_{refused.code}", language)
        self._send(inbound, [Outgoing(said)])
        return True

    def _postback(self, inbound: Inbound) -> None:
        postback = messages.read_postback(inbound.text)
        if postback is None:
            log.info("channel.postback.unknown channel=%s", inbound.channel)
            return
        if postback.action == "handoff":
            conversation = self._open_conversation(inbound, create=True)
            assert conversation is not None
            with self._handling(conversation.id):
                extra: list[Outgoing] = []
                try:
                    self.service.request_person(conversation.id)
                except InvalidTransition:
                    extra.append(Outgoing(say("already_waiting", self._language(conversation))))
                self.deliver(conversation.id, inbound, extra)
        elif postback.action == "back_to_bot":
            conversation = self._open_conversation(inbound, create=False)
            if conversation is None:
                return
            with self._handling(conversation.id):
                self._back_to_bot(conversation)
                self.deliver(conversation.id, inbound)
        elif postback.conversation_id is not None:
            self._survey(inbound, postback)

    def _survey(self, inbound: Inbound, postback: messages.Postback) -> None:
        """The survey's two questions: CSAT asks CES next; CES records both."""
        conversation_id = postback.conversation_id
        assert conversation_id is not None and postback.csat is not None
        try:
            conversation = self.store.get(conversation_id)
        except ConversationNotFound:
            return
        if conversation.customer_id != _customer_id(inbound):
            log.warning("channel.survey.foreign channel=%s", inbound.channel)
            return
        language = self._language(conversation)
        with self._handling(conversation.id):
            extra: list[Outgoing] = []
            if postback.ces is None:
                extra.append(messages.ces_question(conversation.id, postback.csat, language))
            else:
                try:
                    self.service.survey(conversation.id, postback.csat, postback.ces)
                except SurveyRefused:
                    extra.append(Outgoing(say("survey_closed", language)))
            self.deliver(conversation.id, inbound, extra)

    def _back_to_bot(self, conversation: Conversation) -> None:
        """The customer would rather not wait for a person: the bot answers again."""
        back = ReturnedToBot(CUSTOMER, "customer_back_to_bot", ConversationStatus.WAITING)
        try:
            self.service.flows.apply(conversation.id, back)
        except (StatusConflict, InvalidTransition):
            return  # an agent took it meanwhile, or it was not waiting

    def _unreadable(self, inbound: Inbound) -> None:
        """A sticker, picture, location, ...: a polite answer; nothing is logged."""
        conversation = self._open_conversation(inbound, create=False)
        contact = self._contact(inbound)
        language = self._language(conversation) if conversation else _lang(contact)
        kind = str(inbound.metadata.get("message_type") or "attachment")
        what = say(
            kind
            if kind in ("sticker", "image", "video", "audio", "location", "file")
            else "attachment",
            language,
        )
        if conversation is not None and conversation.status in (
            ConversationStatus.WAITING,
            ConversationStatus.WITH_AGENT,
        ):
            self._send(inbound, [Outgoing(say("cannot_read_with_agent", language, what=what))])
        else:
            text = say("cannot_read", language, what=what)
            self._send(inbound, [Outgoing(text, (messages.talk_to_person(language),))])

    # --- what goes out ---

    def changed(self, conversation_id: str) -> None:
        """The feed's signal that the conversation's log grew (from any thread, maybe under
        the conversation's lock): queue a delivery; an event being handled delivers itself."""
        with self._guard:
            if conversation_id in self._not_carried:
                return
            if conversation_id in self._in_flight:
                self._dirty.add(conversation_id)
                return
        self._lanes.submit(
            ("deliver", conversation_id), lambda: self._deliver_if_carried(conversation_id)
        )

    def _deliver_if_carried(self, conversation_id: str) -> None:
        with self._guard:
            carried = conversation_id in self._carried
        if not carried:
            if self.records.tracked(conversation_id) is None:
                with self._guard:
                    if conversation_id not in self._carried:
                        self._not_carried[conversation_id] = None
                        while len(self._not_carried) > NOT_CARRIED_KEPT:
                            self._not_carried.popitem(last=False)
                return
            with self._guard:
                self._carried.add(conversation_id)
        self.deliver(conversation_id)

    def deliver(
        self,
        conversation_id: str,
        inbound: Inbound | None = None,
        extra: Sequence[Outgoing] = (),
    ) -> None:
        """Send what the customer has not been told yet (the log after the cursor), then
        `extra`; with the reply token of `inbound` when it has one."""
        with self._delivery_lock(conversation_id):
            tracked = self.records.tracked(conversation_id)
            channel = self.channels.get(tracked.channel) if tracked else None
            if tracked is None or channel is None:
                return
            conversation, history = self.service.transcript(conversation_id)
            fresh = [r for r in history if r.seq > tracked.delivered_seq]
            if fresh and not self.records.advance(
                conversation_id, tracked.delivered_seq, fresh[-1].seq
            ):
                fresh = []  # another worker moved the cursor: it sends these
            language = messages.language_of(history, self._fallback_language(conversation))
            said = messages.outgoing(
                conversation_id, fresh, language, lambda: self._position(conversation_id)
            )
            said.extend(extra)
            if not said:
                return
            delivery = channel.send(
                tracked.sender_id,
                said,
                inbound.reply_token if inbound else None,
                inbound.at if inbound else None,
            )
        log.info(
            "channel.delivered channel=%s messages=%d replied=%d pushed=%d failed=%d",
            tracked.channel,
            len(said),
            delivery.replied,
            delivery.pushed,
            delivery.failed,
        )

    def _send(self, inbound: Inbound, said: list[Outgoing]) -> None:
        """Messages outside any conversation's log (a greeting, an answer to a sticker)."""
        channel = self.channels.get(inbound.channel)
        if channel is not None:
            channel.send(inbound.sender_id, said, inbound.reply_token, inbound.at)

    # --- conversations and contacts ---

    def _open_conversation(self, inbound: Inbound, *, create: bool) -> Conversation | None:
        """The customer's conversation on this channel while it is open (not resolved); a new
        one when there is none and `create`."""
        customer_id = _customer_id(inbound)
        found = self.store.conversations(customer_id=customer_id)
        if found and found[0].status != ConversationStatus.RESOLVED:
            return found[0]
        if not create:
            return None
        contact = self._contact(inbound)
        conversation = self.service.start(inbound.channel, customer_id, contact.language)
        with self._guard:
            self._carried.add(conversation.id)
            self._not_carried.pop(conversation.id, None)
        self.records.track(conversation.id, inbound.channel, inbound.sender_id, seq=1)
        log.info("channel.conversation.started channel=%s", inbound.channel)
        return conversation

    def _contact(self, inbound: Inbound, following: bool | None = None) -> Contact:
        """The customer's contact, with their name and language asked of the platform once."""
        contact = self.records.contact(inbound.channel, inbound.sender_id)
        if contact is not None and following is None:
            return contact
        name = language = None
        if contact is None:
            channel = self.channels.get(inbound.channel)
            profile = channel.profile(inbound.sender_id) if channel else None
            if profile is not None:
                name, language = profile.display_name, profile.language
        return self.records.save_contact(
            inbound.channel,
            inbound.sender_id,
            display_name=name,
            language=language,
            following=following,
        )

    def _language(self, conversation: Conversation) -> Language:
        _, history = self.service.transcript(conversation.id)
        return messages.language_of(history, self._fallback_language(conversation))

    def _fallback_language(self, conversation: Conversation) -> str | None:
        if conversation.language:
            return conversation.language
        channel, _, sender = (conversation.customer_id or "").partition(":")
        contact = self.records.contact(channel, sender) if sender else None
        return contact.language if contact else None

    @contextmanager
    def _handling(self, conversation_id: str) -> Iterator[None]:
        """While an event of the conversation is handled, nothing else delivers for it: the
        handler delivers the bot's answer with the event's reply token, and the feed's signals
        that came meanwhile deliver after it (by push) whatever it did not send."""
        with self._guard:
            self._in_flight.add(conversation_id)
        try:
            with self._delivery_lock(conversation_id):
                yield
        finally:
            with self._guard:
                self._in_flight.discard(conversation_id)
                dirty = conversation_id in self._dirty
                self._dirty.discard(conversation_id)
            if dirty:
                self.changed(conversation_id)

    def _delivery_lock(self, conversation_id: str) -> threading.RLock:
        with self._guard:
            lock = self._delivering.get(conversation_id)
            if lock is None:
                lock = threading.RLock()
                self._delivering[conversation_id] = lock
            return lock


def _customer_id(inbound: Inbound) -> str:
    return f"{inbound.channel}:{inbound.sender_id}"


def _lang(contact: Contact) -> Language:
    return "en" if contact.language == "en" else "zh"
