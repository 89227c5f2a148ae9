"""A shop's ERP as a real HTTP server: orders by number behind a bearer token, one slow order
and one that makes it fail, and a record of the requests it got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "erp-token-42"
ORDERS: dict[str, dict[str, Any]] = {
    "E100": {
        "result": {
            "orderNo": "E100",
            "state": "配送中",
            "buyer": {"mobile": "0912-345-678", "mail": "mei@example.tw"},
            "amount": 1500,
            "shipments": [
                {
                    "company": "新竹物流",
                    "no": "HCT-7788",
                    "url": "https://hct.example/7788",
                    "eta": "2026-12-05",
                }
            ],
            "updatedAt": "2026-12-02T08:00:00+08:00",
        }
    }
}
FIELDS = {
    "number": "result.orderNo",
    "status": "result.state",
    "phone": "result.buyer.mobile",
    "email": "result.buyer.mail",
    "total": "result.amount",
    "carrier": "result.shipments[0].company",
    "tracking_number": "result.shipments[0].no",
    "tracking_url": "result.shipments[0].url",
    "expected_delivery": "result.shipments[0].eta",
    "updated_at": "result.updatedAt",
}


@contextmanager
def fake_erp(slow_s: float = 3.0) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Yields (base URL, the requests it got: path and headers)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.answer(401, {"error": "unauthorized"})
            number = self.path.rsplit("/", 1)[-1]
            if number == "S500":
                time.sleep(slow_s)
                return self.answer(200, ORDERS["E100"])
            if number == "B502":
                return self.answer(502, {"error": "upstream down"})
            if number in ORDERS:
                return self.answer(200, ORDERS[number])
            return self.answer(404, {"error": "no such order"})

        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the slow order)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
