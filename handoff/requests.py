"""Spotting a customer who asks for a person: 真人, 轉人工, 找主管, agent, "let me talk to someone".

A word such as "manager", 主管 or 客服 alone is not a request ("does the manager approve
refunds?", 主管機關是哪個單位？, 客服電話幾號？): a pattern fires only where the person is
what the customer asks for — after a verb of asking or reaching (找, 轉, 叫, talk to, get me),
as the whole message ("agent", 真人！), or as a refusal of the bot (不要機器人).
Key words typed in a hurry are read as meant first ("speak wiht omeone", "speakwith a huma
agent": `respelled`). eval/data/explicit_requests.txt and explicit_near_misses.txt measure both
sides; Bitext's contact_human_agent utterances against its other intents too (eval/gate.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# People a customer asks for, in zh-TW.
_ZH_PERSON = (
    r"(真人(客服)?|專人|(?<!理財)專員|人工(客服|服務)?|客服(人員|專員|小姐|先生)|服務人員|工作人員"
    r"|主管(?!機關|單位|機構)|經理(?!人)|店長|負責人|老闆(?!娘))"
)
_ZH_PATTERNS = [
    # 轉人工, 轉真人, 轉接客服: "轉" before a person is always a transfer
    r"轉(接)?(給)?(真人|人工|專人|專員|客服|主管|經理|服務人員)",
    r"(人工|真人)客服",
    # 找/叫/請/換/要 + a person (找主管, 叫你們主管出來, 我要找真人, 給我真人)
    r"(找|叫|換|要|給我|幫我找|讓)(一下|你們的?|妳們的?|一位|一個|個)?" + _ZH_PERSON,
    # 找個人來處理, 我要跟人講話: a bare 人 only with what the person is wanted for
    # (找個人均消費… is a price per head, 找人把鳥巢拆除 an errand)
    r"(找|要|叫)(一個|個)?(真)?人(來)?(跟我|和我|處理|回覆|回答|講|說|談|聊)",
    r"(跟|和|與)(真)?人(講|說|談|聊|對話)",
    r"(請|麻煩|幫忙)(你們的?)?(售後)?(真人|專人|專員|客服人員|客服專員|主管|經理|店長|負責人|服務人員|人)"
    r"(來)?(跟我|與我|和我|幫我|打|聯絡|聯繫|回電|處理|回覆|回答|出來)",
    # 跟/和/與 + a person + 講/說/談/聊 (我要跟人講話, 讓我跟真人說)
    r"(跟|和|與|同)(你們的?)?" + _ZH_PERSON + r"(客服)?(講|說|談|聊|通話|對話|溝通|反映)",
    r"(你們|妳們)的?(主管|經理|老闆|負責人|店長)(?!機關|單位)(在哪|呢|出來|過來)",
    r"(主管|經理|老闆|負責人|店長)(給我)?出來",
    # Refusing the bot: 不要機器人, 不想跟機器人講話, 機器人沒用
    r"(不要|不想|不用|別)(再)?(跟|和)?(機器人|機械人|bot)",
    r"(機器人|機械人)(根本)?(沒用|聽不懂|很爛|好爛|太爛)",
    r"(有|有沒有)(真人|人)(在|可以)(嗎|回|回答|處理|幫)",
    # 有客服人員可以協助嗎: a person who could help, asked after (not 有專人到府安裝嗎)
    r"(有|有沒有)(真人|客服人員|客服專員|真人客服)(可以|能|能夠)?(協助|幫忙|幫我|處理|回覆|回答)",
    # 有沒有人可以直接跟我講話, 有人能跟我說明嗎
    r"(有|有沒有)(真)?人(可以|能|會)?(直接)?(跟|和|與)我(講|說|談|聊|對話|通話|聯絡|聯繫)",
    # the message is, or opens with, the person asked for: 真人！, 人工服務 您好 在嗎
    r"^(真人|人工|專人|客服人員)(客服|服務)?([!！。.?？~～\s]|$)",
]

_EN_PERSON = (
    r"(an? |the |your |some |one of your |another )?"
    r"((fucking|damn|goddamn|bloody|freaking) )?"
    r"(real |live |actual |human |customer service |customer support |support )?"
    r"(h[uy]?m[ae]?n( being)?|person|agent|representative|rep|manager|supervisor|operator"
    r"|someone|somebody|staff( member)?|employee|boss|superior|customer service"
    r"|(?<!virtual )(?<!ai )(?<!digital )(?<!shopping )assistant)"
    r"(?!'s|’s| (account|fee|role|approval|name|special|resources|limit|office))\b"
)
# "Are you a real person?" asks what the bot is, not for a person: the patterns of
# _EN_MENTIONS count only in a message that does not ask that; _EN_ASKING count always
# ("are you a bot? get me a human").
_EN_ABOUT_THE_BOT = re.compile(
    r"\b(am i|are we) (talking|speaking|chatting)|\b(are|r) (you|u)\b|\byou'?re (a|an)\b"
    r"|\byour (a|an) |\bif you are\b",
    re.I,
)
_EN_MENTIONS = [
    r"\b(talk|speak|chat|communicate)(t?ing)? (to|with) " + _EN_PERSON,
    r"\b(is|are) there (a |an |any )?(real |live |actual )?(human|person|people|humans|agent)s?\b"
    r"(?! (limit|allowed))",
    r"\b(live|real|actual) (agent|person|human|representative|operator)\b",
    r"\bhuman (agent|support)\b",
]
_EN_ASKING = [
    r"\b(get|give|put|transfer|connect|pass|hand|forward|send) me "
    r"(to |with |through to |over to |on to )?" + _EN_PERSON,
    r"\b(i|we) (want|need|demand|would like|'d like|wanna)( to have| to see)? "
    r"(an? |the |your |some |one of your )?"
    r"(real |live |actual |human )?(human|person|agent|representative|manager|supervisor"
    r"|operator)(?!'s|’s| (account|fee|role|approval|name))\b",
    r"\b(escalate|escalating) (this|it|my (case|issue|complaint|ticket))\b",
    r"\bhave (a|an|some) (real |live )?(person|human|agent|representative|someone) "
    r"(contact|call|email|help)",
    r"\b(someone|somebody) from your (team|company|staff|store) (call|contact|email|help)",
    r"\b(do ?n[o']t|no more|stop( the)?|enough( of)?( the)?) (want to talk to )?(an? |the |your )?"
    r"(bot|bots|robot|robots|machine|chatbot|automated)\b",
    r"\b(bot|robot|chatbot) is (useless|stupid|not helping|no help)\b",
    # Reaching a person: "how do I contact an agent", "I want to speak with someone"
    # (not "contact customer service": that asks for a phone number or an address)
    r"\b(contact|reach|speak (to|with)|talk (to|with)|chat(ting)? with)(ing)? "
    r"(?!(the |your )?customer (service|support|care)\b)" + _EN_PERSON,
    # "Can a human help me with this?", "could one of your staff look at it?"
    r"\b(can|could|may|will|would) (a|an|some|one of your|your|a member of your) (real |live "
    r"|actual )?(h[uy]?m[ae]?n|person|agent|representative|staff( member)?|employee|team)s? "
    r"(please )?(help|assist|look|handle|call|contact|check|take|talk|speak|answer)",
    r"\b(any|an?) (real |live )?(h[uy]?m[ae]?n|person|agent|representative|one)s? available\b",
    # "is there someone available?", "if there is any person available"
    r"\b(someone|somebody|anyone|anybody|any ((fucking|damn|real|live) )?(person|human|agent))"
    r" (is )?available\b",
    # "is there someone I can talk to?"
    r"\bis there (someone|somebody|anyone|anybody|a (real |live )?(person|human|agent))"
    r"( (i|we) (can|could))? (talk|speak|chat)\b",
    r"\btransfer (me )?(to )?(me )?(an? |the )?(h[uy]?m[ae]?n|person|agent|representative)\b",
    # Telling the bot it is no help: "you're not helping", "you aren't helping"
    r"\b(you'?re|you are|u are|u r|youre|you aren'?t|u aren'?t|you arent|u arent) "
    r"(not )?(helping|helpful|no help|useless)\b",
    r"\b(i )?(do ?n[o']?t|cannot|can'?t|cant) understand (you|u|ya)\b",
    # The whole message is the person asked for: "agent", "HUMAN!!!", "representative please"
    r"^\W*(please,? )?(an? )?(human|agent|representative|rep|operator|real person|live person"
    r"|person|manager|supervisor|live agent|customer service)(,? (please|pls|plz|now))*\W*$",
]
_ASKING = [re.compile(p) for p in _ZH_PATTERNS] + [re.compile(p, re.I) for p in _EN_ASKING]

# The English words the patterns turn on, and the short ones a mistyped word may be run into
# ("speakwith", "toocontact"). Customers type fast: "speak wiht someone", "ocntact an agent",
# "a huma agent" ask for a person all the same.
_KEY_WORDS = frozenset(
    "someone somebody anyone anybody human agent person operator representative manager "
    "supervisor speak talk chat chatting talking speaking contact with transfer connect reach "
    "staff employee available there".split()
)
_JOINED = frozenset("to too with an a the is".split())
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def _one_slip(word: str, key: str) -> bool:
    """Whether `word` is `key` mistyped once: two neighbouring letters swapped (wiht), a letter
    doubled (witth), one left out (huma, omeone) or, in a word of six letters or more, one
    added or changed (sopmeone, eprson). Short words change only by the slips that keep their
    letters: 'walk' is not 'talk' mistyped, nor 'wish' 'with'."""
    if word == key:
        return False
    if len(word) == len(key):
        diff = [i for i in range(len(word)) if word[i] != key[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            return word[diff[0]] == key[diff[1]] and word[diff[1]] == key[diff[0]]
        return len(diff) == 1 and len(key) >= 6
    if len(word) == len(key) + 1:  # one letter added: a double, or any in a long word
        return any(
            word[:i] + word[i + 1 :] == key
            and (len(key) >= 6 or (i > 0 and word[i] == word[i - 1]))
            for i in range(len(word))
        )
    if len(word) + 1 == len(key) and len(key) >= 5:  # one letter left out
        return any(key[:i] + key[i + 1 :] == word for i in range(len(key)))
    return False


def _respelled_word(word: str) -> str:
    lower = word.lower()
    if lower in _KEY_WORDS or len(lower) < 4:
        return word
    for key in _KEY_WORDS:
        if _one_slip(lower, key):
            return key
    for i in range(1, len(lower)):  # two words run together
        head, tail = lower[:i], lower[i:]
        if head in _JOINED | _KEY_WORDS and tail in _JOINED | _KEY_WORDS:
            return f"{head} {tail}"
    return word


def respelled(text: str) -> str:
    """The message with its mistyped key words set right (`_one_slip`) and words run together
    split ("speakwith" → "speak with"); everything else as it was."""
    return _LATIN_WORD.sub(lambda m: _respelled_word(m.group(0)), text)


_MENTIONS = [re.compile(p, re.I) for p in _EN_MENTIONS]


@dataclass(frozen=True)
class RequestFinder:
    """Finds the phrase by which a message asks for a person; `extra` are more patterns."""

    extra: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def with_phrases(cls, phrases: Sequence[str]) -> RequestFinder:
        return cls(tuple(re.compile(p, re.I) for p in phrases))

    def find(self, text: str) -> str | None:
        """The matched phrase, or None when the message does not ask for a person."""
        plain = " ".join(respelled(text).split())
        patterns = [*_ASKING, *self.extra]
        if not _EN_ABOUT_THE_BOT.search(plain):
            patterns += _MENTIONS
        for pattern in patterns:
            found = pattern.search(plain)
            if found:
                return found.group(0).strip()
        return None
