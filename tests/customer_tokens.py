"""Test clients acting as the customers they started conversations for: every conversation
started through a client sends its customer token on that conversation's customer routes, as
the widget does. A request that sets its own Authorization header keeps it."""

from __future__ import annotations

import re
import sys
from collections.abc import Generator
from typing import Any

import httpx

STARTED = re.compile(r"/api/conversations/?$")
CUSTOMER_ROUTE = re.compile(r"/api/conversations/([^/?]+)")


class CustomerTokens:
    """An httpx auth flow (mixed into the Auth class of the client's own httpx package:
    starlette's TestClient may build on another one than httpx)."""

    requires_response_body = True

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        route = CUSTOMER_ROUTE.search(request.url.path)
        if route and "authorization" not in request.headers and route[1] in self.tokens:
            request.headers["Authorization"] = f"Bearer {self.tokens[route[1]]}"
        response = yield request
        if (
            request.method == "POST"
            and STARTED.search(request.url.path)
            and response.status_code == 201
        ):
            started = response.json()
            self.tokens[started["id"]] = started["customer_token"]


def as_customer(client: httpx.Client) -> httpx.Client:
    """`client`, sending the customer token of each conversation it starts."""
    base = sys.modules[type(client)._build_auth.__module__].Auth
    client.auth = type("CustomerTokensAuth", (CustomerTokens, base), {})()
    return client


def token_of(client: httpx.Client, conversation_id: str) -> str:
    auth = client.auth
    assert isinstance(auth, CustomerTokens), "the client is not acting as a customer"
    return auth.tokens[conversation_id]
