"""What a customer on a messaging channel is told for each event of their conversation's log,
channel-neutral (`Outgoing`), in their language; and the buttons' postback data.

The widget shows the same events live; a channel sends them as messages: the bot's turns with
their sources and buttons, agents' replies with the agent's name, the place in the queue when
the conversation is handed off, the return to the bot, and the survey when an agent resolves
it. The queue's later moves are not sent: on LINE each would be a paid push.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answering.extract import customer_label
from bot.answering.texts import Language
from bot.channels.base import Action, Choice, Outgoing
from bot.channels.texts import say
from bot.conversation.events import (
    AgentReplied,
    AgentSentImage,
    BotTurn,
    CustomerMessaged,
    Recorded,
    StatusChanged,
    SurveyAnswered,
    TurnClarifying,
    TurnHandedOff,
)
from bot.conversation.status import ConversationStatus

# Postback data (LINE allows 300 characters, Messenger 1,000).
HANDOFF = "kefu:handoff"
BACK_TO_BOT = "kefu:back_to_bot"
CSAT = "kefu:csat"  # kefu:csat:<conversation id>:<1-5>
CES = "kefu:ces"  # kefu:ces:<conversation id>:<csat>:<1-7>


@dataclass(frozen=True)
class Postback:
    action: str  # handoff, back_to_bot, csat, ces
    conversation_id: str | None = None
    csat: int | None = None
    ces: int | None = None


def read_postback(data: str) -> Postback | None:
    """The button a postback's data names; None for data kefu did not make."""
    if data == HANDOFF:
        return Postback("handoff")
    if data == BACK_TO_BOT:
        return Postback("back_to_bot")
    parts = data.split(":")
    try:
        if data.startswith(CSAT + ":") and len(parts) == 4:
            return Postback("csat", parts[2], csat=_score(parts[3], 5))
        if data.startswith(CES + ":") and len(parts) == 5:
            return Postback("ces", parts[2], csat=_score(parts[3], 5), ces=_score(parts[4], 7))
    except ValueError:
        return None
    return None


def _score(text: str, top: int) -> int:
    score = int(text)
    if not 1 <= score <= top:
        raise ValueError(f"{score} is not within 1-{top}")
    return score


def talk_to_person(language: Language) -> Choice:
    return Choice(say("talk_to_person", language), Action.POSTBACK, HANDOFF)


def back_to_bot(language: Language) -> Choice:
    return Choice(say("back_to_bot", language), Action.POSTBACK, BACK_TO_BOT)


def csat_question(conversation_id: str, language: Language) -> Outgoing:
    choices = tuple(
        Choice(str(n), Action.POSTBACK, f"{CSAT}:{conversation_id}:{n}") for n in range(1, 6)
    )
    return Outgoing(say("survey_csat", language), choices)


def ces_question(conversation_id: str, csat: int, language: Language) -> Outgoing:
    choices = tuple(
        Choice(str(n), Action.POSTBACK, f"{CES}:{conversation_id}:{csat}:{n}") for n in range(1, 8)
    )
    return Outgoing(say("survey_ces", language), choices)


def language_of(events: Sequence[Recorded], fallback: str | None) -> Language:
    """The customer's language: of their last message, else `fallback`, else Chinese."""
    for recorded in reversed(events):
        if isinstance(recorded.event, CustomerMessaged) and recorded.event.language == "en":
            return "en"
        if isinstance(recorded.event, CustomerMessaged) and recorded.event.language == "zh":
            return "zh"
    return "en" if fallback == "en" else "zh"


def outgoing(
    conversation_id: str,
    events: Sequence[Recorded],
    language: Language,
    position: Callable[[], int | None],
) -> list[Outgoing]:
    """What the customer is told for `events` (new events of their conversation), in order.
    `position` gives the conversation's place in the human queue now."""
    said: list[Outgoing] = []
    for recorded in events:
        event = recorded.event
        if isinstance(event, BotTurn):
            said.append(_turn(event, position))
        elif isinstance(event, AgentReplied):
            lang = language
            name = event.agent_name or ("客服專人" if lang == "zh" else "Staff")
            said.append(Outgoing(say("agent_says", lang, name=name, text=event.text)))
        elif isinstance(event, AgentSentImage):
            # pictures go out on the web widget only; the customer hears that one came
            name = event.agent_name or ("客服專人" if language == "zh" else "Staff")
            said.append(Outgoing(say("agent_sent_picture", language, name=name)))
        elif isinstance(event, StatusChanged):
            said.extend(_status(conversation_id, event, language, position))
        elif isinstance(event, SurveyAnswered):
            said.append(Outgoing(say("survey_thanks", language)))
    return said


def _turn(turn: BotTurn, position: Callable[[], int | None]) -> Outgoing:
    language: Language = "en" if turn.language == "en" else "zh"
    if isinstance(turn, TurnHandedOff):
        return _waiting(turn.reply, language, position)
    text = turn.reply
    choices: list[Choice] = []
    if isinstance(turn, TurnClarifying) and turn.options:
        numbered = "\n".join(f"{i}. {option}" for i, option in enumerate(turn.options, start=1))
        text = f"{text}\n\n{numbered}\n\n{say('options_intro', language)}"
        choices = [Choice(option, Action.SAY, option) for option in turn.options]
    elif turn.citations:
        labels: list[str] = []
        for cited in turn.citations:
            shown = customer_label(cited, language)
            if cited.url:
                shown = f"{shown} {cited.url}"
            if shown not in labels:
                labels.append(shown)
        text = f"{text}\n\n{say('sources', language)}\n" + "\n".join(f"・{x}" for x in labels)
    choices.append(talk_to_person(language))
    return Outgoing(text, tuple(choices))


def _waiting(first: str, language: Language, position: Callable[[], int | None]) -> Outgoing:
    place = position()
    text = first if place is None else f"{first}\n{say('queue_place', language, position=place)}"
    return Outgoing(text, (back_to_bot(language),))


def _status(
    conversation_id: str,
    changed: StatusChanged,
    language: Language,
    position: Callable[[], int | None],
) -> list[Outgoing]:
    to, actor = changed.to_status, changed.actor
    if to == ConversationStatus.WAITING and actor != "bot":
        # the customer's button, or an agent putting it back in the queue (the bot's own
        # handoff is told by its turn)
        return [_waiting(say("requested_person", language), language, position)]
    if to == ConversationStatus.BOT and changed.reason != "customer_wrote_again":
        return [Outgoing(say("back_with_bot", language))]
    if to == ConversationStatus.RESOLVED and actor.startswith("agent:"):
        return [Outgoing(say("resolved", language)), csat_question(conversation_id, language)]
    return []
