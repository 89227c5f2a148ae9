"""Drafting an answer with a language model that sees only the retrieved passages.

The draft is a proposal: the caller checks it against the passages (grounding.py) and falls
back to the extractive answer when it is declined, fails or is not grounded.

    model = chat_model(settings.llm)  # None when KEFU_LLM__MODE=off
    drafter = Drafter(model, timeout_s=settings.llm.timeout_s)
    draft = drafter.draft("退貨運費誰付？", passages, "zh")
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from bot.answering.passages import Passage

if TYPE_CHECKING:
    from bot.settings import LLMSettings

DECLINE_MARKER = "NOT_IN_PASSAGES"
# Small models echo the marker with spaces, in other cases ("Not in passages") or half
# translated ("不是_IN_PASSAGES", seen with Qwen2.5-Coder-1.5B).
_DECLINED = re.compile(r"NOT[\s_-]*IN[\s_-]*PASSAGES|_IN_PASSAGES", re.IGNORECASE)
# Labels models put before the answer although nobody asked for them.
_LABEL = re.compile(r"^\s*(?:answer|回答|答案|答覆|回覆)\s*[:：]\s*", re.IGNORECASE)

_LANGUAGE_NAMES = {
    "zh": "Traditional Chinese as written in Taiwan (繁體中文，台灣用語)",
    "en": "English",
}

# Chosen on the 10 demo cases of eval/llm_local.py with Qwen2.5-Coder-1.5B (right answers plus
# right refusals): plain rules in the system message 6/10, this wording 7/10, the rules in the
# user message after the passages 4/10 (ending on the marker, it declined 3 of the first 3).
SYSTEM_PROMPT = """You are a customer-service assistant for an online shop. Answer the \
customer's question from the numbered passages the user gives you.
Rules:
1. First look for the passage that answers the question, then answer in {language} with one to \
three complete sentences.
2. Use only facts stated in the passages. Copy numbers, prices, dates and times exactly; never \
add a price, date, deadline, phone number, e-mail address, link or other fact that is not in them.
3. Do not mention the passages or their numbers.
4. Only when no passage answers the question, reply with exactly {marker}."""


@dataclass(frozen=True)
class Draft:
    text: str  # what the customer would read ("" when declined)
    declined: bool  # the model said the passages do not answer the question
    latency_ms: float
    raw: str  # the model's reply as it came, for the turn's record


class DraftFailed(Exception):
    """No draft: the model timed out, raised or said nothing. The caller answers extractively."""

    def __init__(self, reason: Literal["timeout", "model_error", "empty_reply"], detail: str):
        super().__init__(f"draft failed ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


class LLMUnavailable(RuntimeError):
    """An LLM mode is configured but cannot be built here; the message says what to do."""


def prompt_messages(
    question: str, passages: Sequence[Passage], language: Literal["zh", "en"]
) -> list[BaseMessage]:
    """The whole prompt: the rules, the numbered passages and the question, nothing else."""
    numbered = "\n\n".join(f"[{i}] {p.text.strip()}" for i, p in enumerate(passages, 1))
    system = SYSTEM_PROMPT.format(language=_LANGUAGE_NAMES[language], marker=DECLINE_MARKER)
    return [
        SystemMessage(content=system),
        HumanMessage(content=f"Passages:\n{numbered}\n\nCustomer's question: {question.strip()}"),
    ]


_converters: dict[str, Any] = {}
_converter_lock = threading.Lock()


def to_taiwan_traditional(text: str) -> str:
    """Small models drift into Simplified Chinese; s2twp also swaps in Taiwanese wording."""
    import opencc

    with _converter_lock:  # an OpenCC object is not documented as thread-safe
        if "s2twp" not in _converters:
            _converters["s2twp"] = opencc.OpenCC("s2twp")
        return str(_converters["s2twp"].convert(text))


def _is_timeout(exc: BaseException) -> bool:
    # openai.APITimeoutError, httpx.ReadTimeout, TimeoutError: matched by name so that this
    # module needs neither openai nor httpx.
    return isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower()


class Drafter:
    """Asks a chat model for a brief answer drawn from the passages, within a deadline."""

    def __init__(self, model: BaseChatModel, timeout_s: float = 60.0, parallel: int = 2) -> None:
        self._model = model
        self._timeout_s = timeout_s
        # The deadline is enforced here, not trusted to each backend: a local model or a hung
        # endpoint would otherwise hold the customer's turn for as long as it likes.
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="kefu-drafter")

    def draft(self, question: str, passages: list[Passage], language: Literal["zh", "en"]) -> Draft:
        messages = prompt_messages(question, passages, language)
        started = time.perf_counter()
        future = self._pool.submit(self._model.invoke, messages)
        try:
            reply = future.result(timeout=self._timeout_s)
        except FutureTimeout as exc:
            future.cancel()
            raise DraftFailed("timeout", f"no draft within {self._timeout_s:g} s") from exc
        except Exception as exc:
            reason: Literal["timeout", "model_error"] = (
                "timeout" if _is_timeout(exc) else "model_error"
            )
            raise DraftFailed(reason, f"{type(exc).__name__}: {exc}") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        raw = reply.text if isinstance(reply, BaseMessage) else str(reply)
        if not raw.strip():
            raise DraftFailed("empty_reply", "the model replied with no text")
        if _DECLINED.search(raw):
            return Draft(text="", declined=True, latency_ms=latency_ms, raw=raw)
        text = _LABEL.sub("", raw.strip()).strip()
        if language == "zh":
            text = to_taiwan_traditional(text)
        return Draft(text=text, declined=False, latency_ms=latency_ms, raw=raw)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class LlamaCppChat(BaseChatModel):
    """A local GGUF model through llama-cpp-python, as a langchain chat model.

    The model loads on the first call (about a second for 1 GB) so that starting the app and the
    tests stay fast; one llama context serves one generation at a time.
    """

    model_path: Path
    n_ctx: int = 4096
    n_threads: int = 2
    max_tokens: int = 300
    temperature: float = 0.0
    timeout_s: float | None = None

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _loaded(self) -> Any:
        if self._llama is None:
            # llama.cpp's OpenMP workers spin while waiting; with another process on the same
            # two cores that made 20 tokens take 50 s instead of 8.5 s (measured here). Set before
            # the library loads, as knowledge/embedding.py does for e5.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                verbose=False,
            )
        return self._llama

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        chat = [{"role": roles.get(m.type, "user"), "content": m.text} for m in messages]
        with self._lock:
            llama = self._loaded()
            deadline = time.monotonic() + self.timeout_s if self.timeout_s else None
            # Streamed so that generation stops (and frees the context for the next turn) once
            # the caller has given up waiting; create_chat_completion takes no stopping criteria.
            chunks = llama.create_chat_completion(
                messages=chat,
                max_tokens=kwargs.get("max_tokens", self.max_tokens),
                temperature=self.temperature,
                stop=stop,
                stream=True,
            )
            parts: list[str] = []
            finish_reason = None
            for chunk in chunks:
                choice = chunk["choices"][0]
                parts.append(choice["delta"].get("content") or "")
                finish_reason = choice.get("finish_reason") or finish_reason
                if deadline is not None and time.monotonic() > deadline:
                    chunks.close()
                    raise TimeoutError(f"the local model ran past {self.timeout_s:g} s")
        message = AIMessage(
            content="".join(parts), response_metadata={"finish_reason": finish_reason}
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def chat_model(settings: LLMSettings) -> BaseChatModel | None:
    """The chat model the settings ask for; None when drafting with an LLM is off."""
    match settings.mode:
        case "off":
            return None
        case "openai":
            try:
                from langchain_openai import ChatOpenAI
            except ImportError as exc:
                raise LLMUnavailable(
                    "KEFU_LLM__MODE=openai needs the 'llm' extra: pip install 'kefu[llm]'"
                ) from exc
            return ChatOpenAI(
                base_url=settings.base_url,
                # Local endpoints (Ollama, vLLM, llama.cpp server) want no key, but the client
                # refuses to start without one.
                api_key=settings.api_key or "not-needed",  # type: ignore[arg-type]
                # Endpoints serving a single model ignore the name; the client requires one.
                model=settings.model or "default",
                timeout=settings.timeout_s,
                max_tokens=settings.max_tokens,  # type: ignore[call-arg]
                temperature=0,
                # A retry would double the customer's wait; a failed draft falls back at once.
                max_retries=0,
            )
        case "llamacpp":
            if importlib.util.find_spec("llama_cpp") is None:
                raise LLMUnavailable(
                    "KEFU_LLM__MODE=llamacpp needs llama-cpp-python and the model file: "
                    "run `make local-llm`"
                )
            if settings.model_path is None or not settings.model_path.is_file():
                raise LLMUnavailable(
                    f"KEFU_LLM__MODEL_PATH={settings.model_path}: no GGUF file there; "
                    "run `make local-llm` and set the path it prints"
                )
            return LlamaCppChat(
                model_path=settings.model_path,
                max_tokens=settings.max_tokens,
                timeout_s=settings.timeout_s,
            )
    raise LLMUnavailable(f"unknown KEFU_LLM__MODE={settings.mode}")
