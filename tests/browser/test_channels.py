"""The console shows a LINE conversation with the customer's LINE name and their conversations
on other channels, in Chromium. The app runs under uvicorn over the demo shop (hashing encoder,
fast) with LINE pointed at a fake LINE platform; the customer writes through signed webhooks."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from bot.app import create_app
from bot.services import Services, build_services
from knowledge.embedding import HashingEmbedder
from tests.bot.api.conftest import REFUSED, demo_data_dir  # noqa: F401 (a fixture)
from tests.bot.channels.conftest import (
    channel_settings,
    line_body,
    line_postback,
    line_text,
    post_line,
)
from tests.bot.channels.platforms import FakeLine
from tests.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

PASSWORD = "alice-correct-horse-1"


@pytest.fixture
def line_app(demo_data_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Services, FakeLine]]:  # noqa: F811
    fake = FakeLine("line-access-token-abcdef")
    fake.profiles["U1"] = {"displayName": "王小明", "language": "zh-TW"}
    settings = channel_settings(demo_data_dir, tmp_path / "c.db", fake.url, "http://127.0.0.1:9")
    services = build_services(settings, embedders=[HashingEmbedder("e5")])
    services.accounts.add("alice", PASSWORD, "agent", "Alice 王")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield url, services, fake
    server.should_exit = True
    thread.join(30)
    services.close()
    fake.close()


def test_the_console_shows_a_line_customer_with_their_other_channels(
    browser: Browser, line_app: tuple[str, Services, FakeLine], shot
) -> None:
    url, services, fake = line_app
    with httpx.Client(base_url=url, timeout=30) as http:
        started = http.post("/api/conversations", json={"channel": "web"}).json()
        web, token = started["id"], started["customer_token"]
        code = http.post(
            f"/api/conversations/{web}/link-code", headers={"Authorization": f"Bearer {token}"}
        ).json()["code"]
        assert post_line(http, line_body(line_text(REFUSED))).status_code == 200  # type: ignore[arg-type]
        fake.wait_for("/v2/bot/message/reply", 1)
        post_line(http, line_body(line_text(code)))  # type: ignore[arg-type]
        fake.wait_for("/v2/bot/message/reply", 2)
        post_line(http, line_body(line_postback("kefu:handoff")))  # type: ignore[arg-type]
        fake.wait_for("/v2/bot/message/reply", 3)
    [line_conversation] = services.store.conversations(customer_id="line:U1")

    context = browser.new_context(
        base_url=url, locale="zh-TW", viewport={"width": 1280, "height": 800}
    )
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/console")
        page.get_by_label(re.compile("帳號")).fill("alice")
        page.get_by_label(re.compile("密碼")).fill(PASSWORD)
        page.get_by_role("button", name=re.compile("登入")).click()
        entry = page.locator(f'#queue button[data-conversation-id="{line_conversation.id}"]')
        expect(entry).to_contain_text("line")
        entry.click()
        expect(page.locator("#packet")).to_be_visible()
        facts = page.locator("#packet-customer")
        expect(facts).to_contain_text("line:U1")
        expect(facts).to_contain_text("王小明")
        others = page.locator("#packet-channels li")
        expect(others).to_have_count(1)
        expect(others.first).to_have_attribute("data-channel", "web")
        shot(page, "line-customer-with-web-conversation")
        others.first.get_by_role("button").click()
        expect(page.locator("#conversation")).to_have_attribute("data-conversation-id", web)
        expect(page.locator('#packet-channels li[data-channel="line"]')).to_have_count(1)
        shot(page, "web-conversation-with-line")
    finally:
        context.close()
    assert not errors, errors
