"""The order question in the widget and the customer's orders in the console, in Chromium:
an admin uploads the shop's order export, a customer asks where the order is, proves it is
theirs with the phone number, reads the tracking, then asks for a person, and the agent sees
the customer's orders beside the conversation."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMINS, TURN_TIMEOUT_MS, AdminPages, Console, Widget

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

EXPORT = """訂單編號,下單時間,電話,Email,狀態,物流,追蹤碼,追蹤連結,預計到貨,金額
80001,2026/12/01 10:00,0912-345-678,mei@example.tw,已出貨,黑貓宅急便,900555666777,https://www.t-cat.com.tw/inquire/trace.aspx?no=900555666777,2026-12-04,1280
"""


def test_the_order_question_in_the_widget_and_the_orders_in_the_console(
    new_page, shot, http: httpx.Client
):
    _, password = ADMINS["carol"]
    assert http.post("/api/auth/login", json={"username": "carol", "password": password}).is_success
    uploaded = http.post(
        "/api/admin/orders/import", files={"file": ("訂單.csv", EXPORT.encode(), "text/csv")}
    )
    assert uploaded.status_code == 200 and uploaded.json()["imported"] == 1, uploaded.text
    http.post("/api/auth/logout")

    customer = new_page()
    widget = Widget(customer).open()
    widget.ask("我的訂單到哪了")
    bot = widget.log.locator(".msg.bot")
    expect(bot.last).to_contain_text("請提供訂單編號", timeout=TURN_TIMEOUT_MS)
    widget.ask("80001")
    expect(bot).to_have_count(2, timeout=TURN_TIMEOUT_MS)
    expect(bot.last).to_contain_text("手機號碼或 Email")
    expect(bot.last).not_to_contain_text("黑貓")
    shot(customer, "asked-for-the-phone")

    widget.ask("0912-345-678")
    expect(bot).to_have_count(3, timeout=TURN_TIMEOUT_MS)
    answer = bot.last
    expect(answer).to_contain_text("訂單 #80001 目前狀態：已出貨")
    expect(answer).to_contain_text("追蹤碼：900555666777")
    expect(answer).to_contain_text("預計到貨：2026-12-04")
    shot(customer, "order-answered")

    widget.ask("請幫我轉接真人客服")
    expect(widget.status).to_have_text(re.compile("已為您轉接專人"), timeout=TURN_TIMEOUT_MS)
    conversation_id = widget.conversation_id

    agent = new_page()
    console = Console(agent).log_in("alice")
    console.open(conversation_id)
    orders = agent.locator("#packet-orders")
    expect(orders.locator('li[data-order="80001"]')).to_contain_text("已出貨 Shipped")
    expect(orders).to_contain_text("黑貓宅急便 900555666777")
    expect(agent.locator("#packet-orders-summary")).to_contain_text("1 筆 orders")
    expect(agent.locator("#packet-orders-summary")).to_contain_text("累計 spent 1280")
    shot(agent, "console-orders")


def test_the_dashboard_shows_conversion_with_its_definition(new_page, shot):
    page = new_page()
    admin = AdminPages(page).log_in()
    admin.tab("Dashboard")
    expect(page.locator("#dash-body")).to_have_attribute("data-loaded", re.compile(r"^\d{4}-"))
    rate = page.locator('.metric[data-key="conversion_rate"]')
    expect(rate.locator("button.value")).to_have_text(re.compile(r"^(\d+\.\d%|—)"))
    expect(rate.locator(".def")).to_contain_text("不代表因果")
    revenue = page.locator('.metric[data-key="attributed_revenue"]')
    expect(revenue.locator(".sub")).to_contain_text("訂單 orders")
    expect(revenue.locator(".def")).not_to_be_empty()
    rate.scroll_into_view_if_needed()
    shot(page, "dashboard-conversion")
