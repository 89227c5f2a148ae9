"""Never strand a customer, in real browsers: a handoff at night with nobody online tells the
customer when people are back and takes a message with an email, which an agent finds in the
console's inbox and answers; a waiting customer goes back to the bot and gets answers."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMINS, TURN_TIMEOUT_MS, Console, Widget, pages_on
from tests.conftest import kefu_server

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZH_WEEKDAYS = ("週一", "週二", "週三", "週四", "週五", "週六", "週日")


@pytest.fixture(scope="module")
def offline_server(browser_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of its own with the settings' default: nobody there, no queue."""
    data = tmp_path_factory.mktemp("offline") / "data"
    shutil.copytree(browser_data, data)
    with kefu_server(data) as url:
        yield url


@pytest.fixture
def admin(offline_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=offline_server, timeout=60) as client:
        _, password = ADMINS["carol"]
        response = client.post("/api/auth/login", json={"username": "carol", "password": password})
        assert response.status_code == 200, response.text
        yield client


@pytest.fixture
def pages(browser: Browser, offline_server: str) -> Iterator[Callable[[], Page]]:
    with pages_on(browser, offline_server) as make:
        yield make


def test_at_night_the_customer_leaves_a_message_and_an_agent_answers_it(
    pages, admin: httpx.Client, shot
) -> None:
    # closed now: the shop opens tomorrow only, at 09:00 Taipei time
    tomorrow = datetime.now(ZoneInfo("Asia/Taipei")).date() + timedelta(days=1)
    hours = {"time_zone": "Asia/Taipei", "days": {WEEKDAYS[tomorrow.weekday()]: ["09:00-18:00"]}}
    response = admin.put("/api/admin/hours", json=hours)
    assert response.status_code == 200, response.text
    assert response.json()["open_now"] is False

    customer = pages()
    widget = Widget(customer).open()
    widget.ask("我要找真人客服")
    told = widget.log.locator(".msg.bot.handed_off")
    expect(told).to_be_visible(timeout=TURN_TIMEOUT_MS)
    expect(told).to_contain_text("目前沒有客服人員上線")
    expect(told).to_contain_text(f"明天（{ZH_WEEKDAYS[tomorrow.weekday()]}）09:00")
    form = widget.log.locator("form.offline-form")
    expect(form).to_be_visible()
    expect(widget.status).to_have_text("")  # not in a queue
    shot(customer, "customer-told-nobody-is-there")

    form.get_by_label("您的訊息").fill("訂單 A123 還沒收到，請回信給我")
    form.get_by_label("電子郵件").fill("not-an-email")
    form.get_by_role("button", name="送出留言").click()
    expect(form.locator(".problem")).to_have_text("電子郵件的格式不正確。")
    form.get_by_label("電子郵件").fill("lin@example.tw")
    form.get_by_role("button", name="送出留言").click()
    left = widget.log.locator(".msg.customer.offline-left")
    expect(left).to_contain_text("訂單 A123 還沒收到")
    expect(left).to_contain_text("lin@example.tw")
    expect(form).to_have_count(0)
    shot(customer, "customer-left-a-message")

    # the bot keeps answering meanwhile
    widget.ask("退貨要怎麼申請？")
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(1, timeout=TURN_TIMEOUT_MS)

    agent = pages()
    Console(agent).log_in("alice")
    message = agent.locator("#offline-messages li.unanswered")
    expect(message).to_have_count(1)
    expect(message).to_contain_text("訂單 A123 還沒收到")
    expect(message).to_contain_text("lin@example.tw")
    expect(agent.locator("#offline-count")).to_contain_text("1 未回覆")
    shot(agent, "agent-inbox")
    reply = "您好，訂單 A123 已經出貨，明天會送達。"
    message.get_by_label("回覆 Reply").fill(reply)
    message.get_by_role("button", name=re.compile("送出回覆")).click()
    expect(agent.locator("#offline-messages li.answered")).to_contain_text("Alice 王")
    expect(agent.locator("#offline-count")).to_contain_text("0 未回覆")

    # the customer comes back to the widget and reads the answer
    customer.reload()
    expect(widget.log.locator(".msg.agent")).to_contain_text(reply)
    shot(customer, "customer-reads-the-answer")


def test_a_waiting_customer_goes_back_to_the_bot_and_gets_answers(
    pages, admin: httpx.Client, shot
) -> None:
    every_day = {day: ["00:00-24:00"] for day in WEEKDAYS}
    response = admin.put("/api/admin/hours", json={"time_zone": "Asia/Taipei", "days": every_day})
    assert response.json()["open_now"] is True

    agent = pages()
    console = Console(agent).log_in("bob")
    customer = pages()
    widget = Widget(customer).open()
    widget.ask("運費怎麼算？多少錢免運？")
    expect(widget.log.locator(".msg.bot")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    customer.locator("[data-kefu=talk]").click()
    expect(widget.status).to_have_text(re.compile(r"^已為您轉接專人"))
    conversation_id = widget.conversation_id
    expect(console.entry(conversation_id)).to_be_visible()
    keep_asking = customer.get_by_role("button", name="繼續問機器人")
    expect(keep_asking).to_be_visible()
    shot(customer, "customer-waiting")

    keep_asking.click()
    expect(widget.log.locator(".msg.system", has_text="已回到線上客服小幫手")).to_have_count(1)
    expect(keep_asking).to_be_hidden()
    expect(console.entry(conversation_id)).to_have_count(0)
    widget.ask("鑑賞期是幾天？")
    expect(widget.log.locator(".msg.bot")).to_have_count(2, timeout=TURN_TIMEOUT_MS)
    expect(widget.log.locator(".msg.bot").last).not_to_have_class(re.compile("handed_off"))
    shot(customer, "customer-back-with-the-bot")
