"""Fake LINE and Graph API platforms: real HTTP servers on a free local port that check every
call kefu makes the way the real platform would (the access token, the payload's shape, the
number of messages and their length) and record it, refusing what the platform would refuse."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 200


@dataclass(frozen=True)
class Raw:
    """An answer that is bytes of a type, not JSON (LINE's content API)."""

    content_type: str
    data: bytes


@dataclass
class FakePlatform:
    token: str
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the real platform would refuse
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                platform._serve(self, "GET")

            def do_POST(self) -> None:
                platform._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("content-length") or 0)
        raw = request.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = Call(method, request.path, headers, body)
        if headers.get("authorization") != f"Bearer {self.token}":
            status, answer = 401, {"message": "Authentication failed"}
            self.problems.append(f"{request.path}: bad authorization header")
        else:
            status, answer = self.answer(call)
        call.status = status
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()
        raw_answer = isinstance(answer, Raw)
        data = answer.data if isinstance(answer, Raw) else json.dumps(answer).encode()
        request.send_response(status)
        request.send_header(
            "content-type", answer.content_type if raw_answer else "application/json"
        )
        request.send_header("content-length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def answer(self, call: Call) -> tuple[int, Any]:
        raise NotImplementedError

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path.split("?")[0] == path and c.method == "POST"]

    def wait_for(self, path: str, count: int = 1, timeout: float = 15.0) -> list[Call]:
        """The POSTs to `path` once there are at least `count` of them; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self.calls if c.path.split("?")[0] == path]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(found)} calls to {path} within {timeout} s, wanted {count}: "
                        f"{[c.path for c in self.calls]}"
                    )
                self._lock.wait(left)

    def settle(self, quiet: float = 0.5) -> None:
        """Wait until no call has come for `quiet` seconds (so that none is still on its way)."""
        while True:
            with self._lock:
                before = len(self.calls)
            time.sleep(quiet)
            with self._lock:
                if len(self.calls) == before:
                    return


class FakeLine(FakePlatform):
    """The LINE Messaging API: reply (a token once, unless expired), push, profile."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.expired: set[str] = set()
        self.used: set[str] = set()
        self.profiles: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, Raw] = {}  # message id → what the content API gives

    def answer(self, call: Call) -> tuple[int, Any]:
        if call.method == "GET" and call.path.startswith("/v2/bot/message/"):
            message_id = call.path.split("/")[4]
            if call.path.endswith("/content") and message_id in self.contents:
                return 200, self.contents[message_id]
            return 404, {"message": "Not found"}
        if call.method == "GET" and call.path.startswith("/v2/bot/profile/"):
            user = call.path.rsplit("/", 1)[1]
            if user in self.profiles:
                return 200, {"userId": user, **self.profiles[user]}
            return 404, {"message": "Not found"}
        if call.path == "/v2/bot/message/reply":
            problem = self._check_messages(call.body)
            token = call.body.get("replyToken") if isinstance(call.body, dict) else None
            if not token:
                problem = problem or "reply without replyToken"
            if problem:
                self.problems.append(problem)
                return 400, {"message": problem}
            if token in self.expired or token in self.used:
                return 400, {"message": "Invalid reply token"}
            self.used.add(token)
            return 200, {"sentMessages": []}
        if call.path == "/v2/bot/message/push":
            problem = self._check_messages(call.body)
            if not (isinstance(call.body, dict) and isinstance(call.body.get("to"), str)):
                problem = problem or "push without to"
            if not call.headers.get("x-line-retry-key"):
                problem = problem or "push without X-Line-Retry-Key"
            if problem:
                self.problems.append(problem)
                return 400, {"message": problem}
            return 200, {"sentMessages": []}
        return 404, {"message": "Not found"}

    @staticmethod
    def _check_messages(body: Any) -> str | None:
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return f"messages must be 1-5, got {messages if messages is None else len(messages)}"
        for message in messages:
            if message.get("type") != "text" or not isinstance(message.get("text"), str):
                return f"not a text message: {message}"
            if not message["text"] or len(message["text"].encode("utf-16-le")) // 2 > 5000:
                return f"text of {len(message['text'])} characters"
            quick = message.get("quickReply")
            if quick is not None:
                items = quick.get("items")
                if not isinstance(items, list) or not 1 <= len(items) <= 13:
                    return "quick reply items must be 1-13"
                for item in items:
                    action = item.get("action") or {}
                    if item.get("type") != "action" or not 1 <= len(action.get("label", "")) <= 20:
                        return f"bad quick reply item {item}"
                    if action.get("type") == "message" and not 1 <= len(action["text"]) <= 300:
                        return "message action text must be 1-300"
                    if action.get("type") == "postback" and not 1 <= len(action["data"]) <= 300:
                        return "postback data must be 1-300"
                    if action.get("type") not in ("message", "postback"):
                        return f"unexpected action {action}"
        return None

    def texts(self, call: Call) -> list[str]:
        return [m["text"] for m in call.body["messages"]]

    def quick_replies(self, call: Call) -> list[dict[str, Any]]:
        last = call.body["messages"][-1]
        return [item["action"] for item in (last.get("quickReply") or {}).get("items", [])]


class FakeGraph(FakePlatform):
    """The Graph API's Send API and user profile."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.names: dict[str, str] = {}

    def answer(self, call: Call) -> tuple[int, Any]:
        if call.method == "GET":
            user = call.path.split("?")[0].strip("/")
            if user in self.names:
                return 200, {"id": user, "name": self.names[user]}
            return 400, {"error": {"message": "Unsupported get request"}}
        if call.path.split("?")[0] != "/me/messages":
            return 404, {"error": {"message": "Unknown path"}}
        body = call.body if isinstance(call.body, dict) else {}
        message = body.get("message") or {}
        problem = None
        if not (body.get("recipient") or {}).get("id"):
            problem = "no recipient.id"
        elif body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            problem = "no messaging_type"
        elif not isinstance(message.get("text"), str) or not 1 <= len(message["text"]) <= 2000:
            problem = f"text must be 1-2000 characters, got {len(message.get('text') or '')}"
        else:
            quick = message.get("quick_replies")
            if quick is not None:
                if not 1 <= len(quick) <= 13:
                    problem = "quick_replies must be 1-13"
                for item in quick:
                    if item.get("content_type") != "text" or not 1 <= len(item["title"]) <= 20:
                        problem = f"bad quick reply {item}"
                    elif not 1 <= len(item.get("payload", "")) <= 1000:
                        problem = "payload must be 1-1000"
        if problem:
            self.problems.append(problem)
            return 400, {"error": {"message": problem, "code": 100}}
        return 200, {"recipient_id": body["recipient"]["id"], "message_id": f"m_{len(self.calls)}"}
