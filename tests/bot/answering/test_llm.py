"""The drafter with fake chat models, the llama.cpp adapter with a fake engine, and the
OpenAI-compatible path over real HTTP against a tiny local server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
from pydantic import SecretStr

from bot.answering.llm import (
    DECLINE_MARKER,
    Drafter,
    DraftFailed,
    LlamaCppChat,
    LLMUnavailable,
    chat_model,
    prompt_messages,
)
from bot.answering.passages import Passage
from bot.settings import LLMSettings

RETURNS = Passage(
    item_id="faq-returns-shipping",
    text="鑑賞期內退貨的回收運費由我們負擔。若是商品瑕疵或寄錯商品，換貨的來回運費也都由我們支付。",
    source="shop_faq.xlsx",
    locator="退換貨!4",
)
SHIPPING = Passage(
    item_id="faq-en-shipping",
    text="Shipping is free on orders of NT$990 or more. Below that, convenience-store pickup "
    "costs NT$60 and home delivery costs NT$100.",
    source="shop_faq.xlsx",
    locator="English FAQ!3",
)


def drafter(*replies: str, timeout_s: float = 5.0) -> Drafter:
    return Drafter(FakeListChatModel(responses=list(replies)), timeout_s=timeout_s)


class Raising(BaseChatModel):
    """A chat model whose every call fails with the given exception."""

    error: Exception

    @property
    def _llm_type(self) -> str:
        return "raising"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise self.error


# --- the prompt --------------------------------------------------------------------------------


def test_prompt_holds_only_the_numbered_passages_and_the_question():
    messages = prompt_messages("退貨要自己付運費嗎？", [RETURNS, SHIPPING], "zh")

    assert [type(m) for m in messages] == [SystemMessage, HumanMessage]
    system, user = (m.text for m in messages)
    assert f"[1] {RETURNS.text}" in user and f"[2] {SHIPPING.text}" in user
    assert user.rstrip().endswith("Customer's question: 退貨要自己付運費嗎？")
    # Where a passage comes from is for citations, not for the model.
    assert "shop_faq.xlsx" not in system + user and "退換貨!4" not in system + user
    assert f"reply with exactly {DECLINE_MARKER}" in system
    assert "Traditional Chinese" in system and "Use only facts stated in the passages" in system


def test_prompt_asks_for_english_when_the_customer_writes_english():
    system = prompt_messages("How much is shipping?", [SHIPPING], "en")[0].text
    assert "answer in English with one to" in system


# --- drafts ------------------------------------------------------------------------------------


def test_a_draft_comes_back_with_its_latency_and_raw_reply():
    draft = drafter("鑑賞期內退貨的回收運費由我們負擔。").draft("退貨運費誰付？", [RETURNS], "zh")

    assert draft.text == "鑑賞期內退貨的回收運費由我們負擔。"
    assert not draft.declined
    assert draft.raw == "鑑賞期內退貨的回收運費由我們負擔。"
    assert draft.latency_ms >= 0


@pytest.mark.parametrize(
    "reply",
    [
        DECLINE_MARKER,
        f"  {DECLINE_MARKER}.",
        "Not in passages",
        "抱歉，NOT_IN_PASSAGES",
        "不是_IN_PASSAGES",
    ],
)
def test_the_marker_declines(reply: str):
    draft = drafter(reply).draft("可以用比特幣付款嗎？", [RETURNS], "zh")

    assert draft.declined
    assert draft.text == ""
    assert draft.raw == reply


def test_a_simplified_chinese_draft_is_converted_to_taiwan_traditional():
    draft = drafter("退货的运费由我们负担，软件会自动处理。").draft("退貨運費？", [RETURNS], "zh")

    assert draft.text == "退貨的運費由我們負擔，軟體會自動處理。"  # s2twp: 软件 → 軟體
    assert draft.raw == "退货的运费由我们负担，软件会自动处理。"


def test_an_english_draft_is_left_as_it_is():
    reply = "Answer: Shipping is free on orders of NT$990 or more."
    draft = drafter(reply).draft("How much is shipping?", [SHIPPING], "en")

    assert draft.text == "Shipping is free on orders of NT$990 or more."  # the label is dropped


def test_a_model_error_is_a_draft_failure_with_the_reason():
    failing = Drafter(Raising(error=ConnectionError("endpoint refused the connection")))

    with pytest.raises(DraftFailed) as failed:
        failing.draft("退貨運費？", [RETURNS], "zh")

    assert failed.value.reason == "model_error"
    assert "ConnectionError" in failed.value.detail and "refused" in str(failed.value)


def test_a_timeout_inside_the_model_is_a_timeout():
    with pytest.raises(DraftFailed) as failed:
        Drafter(Raising(error=TimeoutError("read timed out"))).draft("q", [RETURNS], "zh")
    assert failed.value.reason == "timeout"


def test_a_slow_model_is_given_up_on_at_the_deadline():
    slow = Drafter(FakeListChatModel(responses=["too late"], sleep=3.0), timeout_s=0.2)

    started = time.perf_counter()
    with pytest.raises(DraftFailed) as failed:
        slow.draft("退貨運費？", [RETURNS], "zh")

    assert failed.value.reason == "timeout"
    assert time.perf_counter() - started < 2.0
    slow.close()


def test_an_empty_reply_is_a_failure_not_an_answer():
    with pytest.raises(DraftFailed) as failed:
        drafter("   ").draft("退貨運費？", [RETURNS], "zh")
    assert failed.value.reason == "empty_reply"


# --- building the model from settings ------------------------------------------------------------


def test_mode_off_builds_no_model():
    assert chat_model(LLMSettings(mode="off")) is None


def test_mode_openai_builds_a_deterministic_client_without_retries():
    from langchain_openai import ChatOpenAI

    model = chat_model(
        LLMSettings(mode="openai", base_url="http://127.0.0.1:9/v1", timeout_s=7, max_tokens=99)
    )

    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == "not-needed"
    assert model.model_name == "default"
    assert (model.temperature, model.max_tokens, model.request_timeout) == (0, 99, 7)
    assert model.max_retries == 0


def test_mode_llamacpp_without_the_engine_says_to_run_make_local_llm(monkeypatch, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LLMUnavailable, match="make local-llm"):
        chat_model(LLMSettings(mode="llamacpp", model_path=tmp_path / "m.gguf"))


def test_mode_llamacpp_without_the_model_file_names_the_path(monkeypatch, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    missing = tmp_path / "missing.gguf"
    with pytest.raises(LLMUnavailable, match=r"missing\.gguf"):
        chat_model(LLMSettings(mode="llamacpp", model_path=missing))


def test_mode_llamacpp_builds_the_adapter_with_the_settings(monkeypatch, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    model = chat_model(LLMSettings(mode="llamacpp", model_path=gguf, max_tokens=123, timeout_s=9))

    assert isinstance(model, LlamaCppChat)
    assert (model.model_path, model.max_tokens, model.timeout_s) == (gguf, 123, 9)
    assert (model.n_ctx, model.n_threads) == (4096, 2)


# --- the llama.cpp adapter, with a fake engine -------------------------------------------------


class FakeLlama:
    """Streams a canned reply in chunks the way llama_cpp.Llama.create_chat_completion does."""

    def __init__(self, reply: str, seconds_per_chunk: float = 0.0) -> None:
        self.reply = reply
        self.seconds_per_chunk = seconds_per_chunk
        self.calls: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append(kwargs)

        def chunks() -> Iterator[dict[str, Any]]:
            yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
            for word in self.reply.split(" "):
                time.sleep(self.seconds_per_chunk)
                yield {"choices": [{"delta": {"content": word + " "}, "finish_reason": None}]}
            yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}

        return chunks()


def test_the_llamacpp_adapter_sends_roles_and_joins_the_stream(tmp_path):
    model = LlamaCppChat(model_path=tmp_path / "m.gguf", max_tokens=50)
    engine = FakeLlama("Shipping is free on orders of NT$990 or more.")
    model._llama = engine

    draft = Drafter(model).draft("How much is shipping?", [SHIPPING], "en")

    assert draft.text == "Shipping is free on orders of NT$990 or more."
    (call,) = engine.calls
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    assert SHIPPING.text in call["messages"][1]["content"]
    assert (call["max_tokens"], call["temperature"], call["stream"]) == (50, 0.0, True)


def test_the_llamacpp_adapter_stops_generating_at_its_deadline(tmp_path):
    model = LlamaCppChat(model_path=tmp_path / "m.gguf", timeout_s=0.2)
    model._llama = FakeLlama("one two three four five six seven eight", seconds_per_chunk=0.1)

    with pytest.raises(DraftFailed) as failed:
        Drafter(model, timeout_s=5).draft("q", [SHIPPING], "en")
    assert failed.value.reason == "timeout"


# --- the OpenAI-compatible path over real HTTP ----------------------------------------------------


class FakeOpenAI:
    """A tiny OpenAI-compatible endpoint on a free local port, recording what it was sent."""

    def __init__(self, reply: str, delay_s: float = 0.0, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"path": self.path, **body})
                owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                time.sleep(delay_s)
                payload = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "default"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
                if status != 200:
                    payload = {"error": {"message": "model crashed", "type": "server_error"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as the timeout test wants

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch):
    # A proxy set in the environment must not swallow requests to the local fake endpoint.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_openai_compatible_endpoint_over_http_gets_passages_and_question():
    reply = "Shipping is free on orders of NT$990 or more."
    with FakeOpenAI(reply) as server:
        model = chat_model(LLMSettings(mode="openai", base_url=server.base_url, max_tokens=77))
        assert model is not None
        draft = Drafter(model, timeout_s=10).draft("How much is shipping?", [SHIPPING], "en")

    assert draft.text == reply and not draft.declined
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["model"] == "default" and request["temperature"] == 0
    assert 77 in (request.get("max_tokens"), request.get("max_completion_tokens"))
    system, user = request["messages"]
    assert system["role"] == "system" and DECLINE_MARKER in system["content"]
    assert user["role"] == "user"
    assert SHIPPING.text in user["content"] and "How much is shipping?" in user["content"]
    assert server.headers[0]["authorization"] == "Bearer not-needed"


def test_openai_compatible_endpoint_decline_and_conversion_over_http():
    with FakeOpenAI("退货运费由我们负担。") as server:
        model = chat_model(LLMSettings(mode="openai", base_url=server.base_url, api_key="k"))
        assert model is not None
        draft = Drafter(model, timeout_s=10).draft("退貨運費誰付？", [RETURNS], "zh")
    assert draft.text == "退貨運費由我們負擔。"
    assert server.headers[0]["authorization"] == "Bearer k"

    with FakeOpenAI(DECLINE_MARKER) as server:
        model = chat_model(LLMSettings(mode="openai", base_url=server.base_url))
        assert model is not None
        assert Drafter(model, timeout_s=10).draft("比特幣？", [RETURNS], "zh").declined


def test_openai_compatible_endpoint_that_hangs_is_a_timeout():
    with FakeOpenAI("late", delay_s=3.0) as server:
        model = chat_model(LLMSettings(mode="openai", base_url=server.base_url, timeout_s=0.5))
        assert model is not None
        started = time.perf_counter()
        with pytest.raises(DraftFailed) as failed:
            Drafter(model, timeout_s=10).draft("How much is shipping?", [SHIPPING], "en")
    assert failed.value.reason == "timeout"
    assert time.perf_counter() - started < 2.5
    assert len(server.requests) == 1  # no retry doubling the customer's wait


def test_openai_compatible_endpoint_error_is_a_model_error():
    with FakeOpenAI("", status=500) as server:
        model = chat_model(LLMSettings(mode="openai", base_url=server.base_url))
        assert model is not None
        with pytest.raises(DraftFailed) as failed:
            Drafter(model, timeout_s=10).draft("How much is shipping?", [SHIPPING], "en")
    assert failed.value.reason == "model_error"
    assert "500" in failed.value.detail or "crashed" in failed.value.detail


# --- the real local model, when `make local-llm` has been run ------------------------------------

LOCAL_MODEL = Path("data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")


@pytest.mark.local_llm
def test_the_local_model_drafts_and_declines():
    # Opt-in (make test-local-llm): it needs `make local-llm` (a compile and a 1.1 GB model).
    model = chat_model(LLMSettings(mode="llamacpp", model_path=LOCAL_MODEL, timeout_s=300))
    assert model is not None
    local = Drafter(model, timeout_s=300)

    answered = local.draft("How much is shipping?", [SHIPPING], "en")
    declined = local.draft("Do you offer gift wrapping?", [SHIPPING], "en")

    assert not answered.declined and "990" in answered.text
    assert declined.declined
