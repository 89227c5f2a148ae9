"""Sensitive topics: situations a person should handle (disputes, threats, fraud, security).

Topics and their zh-TW / English patterns are settings (handoff.settings); the defaults aim at
the situation, not at the FAQ question next to it, so that "how do I cancel an order" stays
with the bot and "我要解約" does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Regular expressions (case-insensitive) per topic, zh-TW and English. They name situations a
# person should handle, not the plain FAQ questions around them: "how do I get a refund" stays
# with the bot, "you still haven't refunded me" does not.
BUILT_IN_TOPICS: dict[str, list[str]] = {
    "refund_dispute": [
        r"(還|仍|一直)?(沒|未|沒有)(收到|拿到|看到)(退款|退費|款項)",
        r"(退款|退費|錢)(還|一直|到現在)?(沒|沒有|未)(退|到|入帳|收到|下來)",
        r"(拒絕|不肯|不願意?|不給)(退款|退費|退貨)",
        r"(重複|多)(扣款|扣了|收費|刷了)|扣款爭議|刷了兩次|扣了兩次|被扣兩次",
        r"\bcharge ?backs?\b|\bdisput(e|ing)\b.{0,20}\b(charge|payment|transaction)",
        r"\b(still|never)\b.{0,25}\b(got|get|received?|seen)\b.{0,15}\brefund",
        r"\brefund\b.{0,20}\b(denied|refused|rejected|declined)\b",
        r"\b(refuse[sd]?|won'?t|will not|didn'?t)\b.{0,15}\brefund\b",
        r"\b(charged|billed) (me )?(twice|two times|double)\b|\bdouble[- ]charged\b",
    ],
    "complaint": [
        r"(我要|我想|要|想)?(投訴|客訴)|(我要|我想|我會|要去)(申訴|檢舉)|檢舉你們|申訴你們",
        r"\b(file|make|lodge|submit|raise)\b.{0,12}\bcomplaint\b",
        r"\bcomplain(ing|t)? (about|against)\b|\bi('m| am) complaining\b",
        r"\bthis is a complaint\b",
        r"\b(i('ll| will| am going to|'m going to| am gonna|'m gonna)|we('ll| will)) report "
        r"(you|your (company|store|shop|business))\b|\breport(ing)? you to\b",
    ],
    "legal_threat": [
        # 律師 with what makes it a threat: 訴訟 and 律師諮詢 are plain questions in a
        # city's FAQ
        r"(找|請|委託|我的|叫|跟)律師|律師(函|信)|提告|告你們|告死你們|法院見|上法院|打官司",
        r"消保官|消基會|消保會|消費者保護|法律途徑|存證信函",
        r"\b(lawyers?|attorneys?|lawsuits?|legal action|small claims)\b",
        r"\b(sue|suing) (you|your|them|the company)\b|\b(i|we)('ll| will| am going to|'m going"
        r" to| are going to| gonna) sue\b|\b(see|take) you (to|in) court\b",
        r"\bconsumer protection\b",
    ],
    "fraud": [
        r"詐騙|盜刷|被騙|騙子|騙錢|假冒|釣魚(網站|簡訊|信)|不明(扣款|交易|消費)|不是我刷的",
        r"\bscam(s|med|mer|mers)?\b|\bfraud(ulent)?\b|\bphishing\b",
        r"\bunauthori[sz]ed\b.{0,15}\b(charges?|transactions?|purchases?|payments?)\b",
        r"\bi (did ?n[o']t|never) (make|authori[sz]e)\b.{0,20}\b(purchase|charge|payment)",
    ],
    "account_security": [
        # not 被鎖 (locked): a customer who mistyped a password asks how to unlock it
        r"(帳號|帳戶|賬號|密碼)(被|遭)(盜|駭|入侵|冒用|改|盜用)",
        r"被(盜|駭)(了|號)|有人(盜用|登入|登進)(了)?我的(帳號|帳戶)|異常登入",
        r"\bhack(ed|er|ers)?\b",
        r"\b(account|password|identity) (was |has been |got )?(stolen|compromised|taken over)\b",
        r"\bstolen password\b|\bidentity theft\b|\bsomeone (logged|got|broke) into my account\b",
    ],
    "cancellation": [
        r"解約|取消會員|退會|終止(合約|契約|會員|服務)|註銷(帳號|帳戶|會員)|刪除(我的)?(帳號|帳戶)",
        r"\bcancel(l?ing)? my (account|membership|subscription|contract|plan)\b",
        r"\b(close|delete|terminate) my (account|membership|contract)\b",
        r"\bterminate (the |my )?contract\b",
    ],
}


# Topics whose how-to questions are routine FAQ questions ("怎麼取消會員", "how do I delete my
# account"): a message about them counts only when it is not asking how. A customer who
# states it ("我要解約", "close my account now") still goes to a person.
ROUTINE_WHEN_ASKED_HOW = frozenset({"cancellation"})
_ASKING_HOW = re.compile(
    r"怎麼|如何|要怎樣|怎樣|流程|步驟|手續|方法|可以.{0,12}嗎|可不可以|能不能|能否|是否"
    r"|\bhow (do|can|to|should|would)\b|\bcan (i|we|you)\b|\bis it possible\b"
    r"|\b(steps|process|procedure)\b",
    re.I,
)


@dataclass(frozen=True)
class TopicMatch:
    topic: str
    phrase: str


class TopicFinder:
    """Finds the first sensitive topic a message is about, in the order the topics are given."""

    def __init__(self, topics: Mapping[str, Sequence[str]]) -> None:
        self.topics = {
            name: [re.compile(p, re.I) for p in patterns] for name, patterns in topics.items()
        }

    @classmethod
    def of(cls, enabled: Sequence[str], extra: Mapping[str, Sequence[str]]) -> TopicFinder:
        """The enabled built-in topics, with the extra patterns and topics added."""
        unknown = [name for name in enabled if name not in BUILT_IN_TOPICS]
        if unknown:
            raise ValueError(
                f"unknown sensitive topic(s) {unknown}: the built-in ones are "
                f"{list(BUILT_IN_TOPICS)}; define others in extra_sensitive_topics"
            )
        topics: dict[str, list[str]] = {name: list(BUILT_IN_TOPICS[name]) for name in enabled}
        for name, patterns in extra.items():
            topics.setdefault(name, []).extend(patterns)
        return cls(topics)

    def find(self, text: str) -> TopicMatch | None:
        plain = " ".join(text.split())
        asking_how = _ASKING_HOW.search(plain) is not None
        for name, patterns in self.topics.items():
            if asking_how and name in ROUTINE_WHEN_ASKED_HOW:
                continue
            for pattern in patterns:
                found = pattern.search(plain)
                if found:
                    return TopicMatch(name, found.group(0).strip())
        return None
