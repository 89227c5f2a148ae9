"""Text normalisation and tokenisation for keyword search in Traditional Chinese and English."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache

import jieba
import opencc
import Stemmer

from knowledge.synonyms import fold

jieba.setLogLevel(logging.WARNING)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:[.'][a-z0-9]+)*")
_IS_CJK = re.compile(rf"[{_CJK}]")

# Words that carry no meaning for matching a customer's question to an item.
_EN_STOP = frozenset(
    (
        "a an the of to in on at for and or is are was were be been do does did i you my your me "
        "we our it its this that with can could how what when where which who why will would "
        "should have has had if as by from please"
    ).split()
)
_ZH_STOP = frozenset(
    "的 了 嗎 呢 吧 啊 是 我 你 您 要 請 問 會 在 有 和 與 及 或 之 也 就 都 還 把".split()
)

# Bump when tokenize() changes: stored tokens of older versions are recomputed on open.
TOKENIZER_VERSION = "5"

_lock = threading.Lock()
_stemmer = Stemmer.Stemmer("english")
_converters: dict[str, opencc.OpenCC] = {}


def _opencc(config: str) -> opencc.OpenCC:
    with _lock:
        if config not in _converters:
            _converters[config] = opencc.OpenCC(config)
        return _converters[config]


def normalize(text: str) -> str:
    """Full-width → half-width (NFKC), lower case, Simplified → Traditional, so 退货 finds 退貨."""
    folded = unicodedata.normalize("NFKC", text).lower()
    if _IS_CJK.search(folded):
        folded = _opencc("s2t").convert(folded)
    return folded


def _cjk_tokens(run: str, neighbours: bool = True) -> list[str]:
    # jieba's dictionary is Simplified Chinese: segment the Simplified form and cut the Traditional
    # text at the same offsets (the conversion is character for character, checked below).
    simplified = _opencc("t2s").convert(run)
    if len(simplified) != len(run):
        simplified = run
    words: list[str] = []
    # Search mode also emits the shorter words inside long ones (會員等級 → 會員, 等級).
    for _, start, end in jieba.tokenize(simplified, mode="search"):
        word = run[start:end]
        if word not in _ZH_STOP:
            words.append(word)
    # Neighbouring characters as well, for words jieba's dictionary cuts differently in
    # Taiwanese usage (入境 inside 出入境管理); DRCD keyword R@1 .928 → .941 (eval/).
    if neighbours:
        words.extend(run[i : i + 2] for i in range(len(run) - 1))
    return words or ([] if run in _ZH_STOP else [run])


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[str, ...]:
    """Tokens for BM25: jieba words for Chinese, stemmed words for Latin script, no stop words;
    everyday variants (統編, 小七, expire) are first folded to one form (knowledge/synonyms.py)."""
    return _tokens(fold(normalize(text)))


def tokenize_without_synonyms(text: str) -> tuple[str, ...]:
    """`tokenize` before the synonym layer: for measuring what that layer changes."""
    return _tokens(normalize(text))


@lru_cache(maxsize=4096)
def word_tokens(text: str) -> tuple[str, ...]:
    """`tokenize` without the neighbouring-character pairs: the words themselves. A pair that
    straddles two words (程是 in 流程是什麼) helps BM25 find a match but is no word of the
    question, so it is not counted when asking how much of a question an answer covers."""
    return _tokens(fold(normalize(text)), neighbours=False)


def _tokens(folded: str, neighbours: bool = True) -> tuple[str, ...]:
    tokens: list[str] = []
    for run in _RUNS.findall(folded):
        if _IS_CJK.match(run):
            tokens.extend(_cjk_tokens(run, neighbours))
        elif run not in _EN_STOP:
            # Snowball stems let "returns" find "returned" and "deliveries" find "delivery".
            with _lock:  # a Stemmer object is not safe to share between threads
                tokens.append(_stemmer.stemWord(run))
    return tuple(tokens)
