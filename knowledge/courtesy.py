"""Courtesy around a question: 不好意思，… 麻煩了, "hi, … thanks!". It tells how a customer
feels (the gate reads it) but says nothing about what they ask, so search leaves it out."""

from __future__ import annotations

import re

# Words of courtesy anywhere in a message (the gate's cue that a customer is asking nicely).
COURTESY = re.compile(
    r"\b(please|pls|thanks|thank you|could you|would you|may i|hi|hello|sorry to bother)\b"
    r"|請問|不好意思|麻煩(你|您|了)?|謝謝|感謝|您好|你好|想請問|打擾了|拜託",
    re.I,
)
_SEP = r"[\s,，、.。!！~～:：;；]*"
# Courtesy that opens a message (不好意思，請問 / 想問一下 / hi, sorry to bother you,) …
_OPENING = re.compile(
    r"^(" + _SEP + r"(不好意思|抱歉打擾|打擾了|打擾一下|您好|你好|哈囉|嗨|請問一下|請問|"
    r"(我)?想請問|(我)?想問(一下)?|請教(一下)?|問一下|麻煩(你|您)?(一下)?|拜託"
    r"|hi|hello|hey|excuse me"
    r"|sorry to bother you|sorry|quick question)" + _SEP + r")+",
    re.I,
)
# … and closes it (麻煩了，謝謝 / thanks a lot!).
_CLOSING = re.compile(
    r"(" + _SEP + r"(麻煩(你|您)?了|謝謝(你|您)?|感謝(你|您)?|多謝|拜託(了)?|不好意思"
    r"|thanks( a lot)?"
    r"|thank you( very much)?|please|pls|thx|ty)" + _SEP + r")+$",
    re.I,
)


def without_courtesy(text: str) -> str:
    """The question with the courtesy that opens and closes it taken off; the text itself
    when nothing else would be left."""
    core = _CLOSING.sub("", _OPENING.sub("", text.strip())).strip()
    return core or text.strip()
