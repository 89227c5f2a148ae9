"""Customer profiles in Chromium: the dashboard filtered by channel with profile completeness
and the share of customers with each field beside their definitions; an admin defines a field
of the shop's own; in the console an agent fills it in and records the customer's marketing
opt-in, which the audience export then lists; two widget conversations linked with a one-time
code shown in one and typed in the other."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    TURN_TIMEOUT_MS,
    AdminPages,
    Console,
    Widget,
    handed_off_by_api,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]


def test_profiles_on_the_dashboard_and_in_the_console(new_page, shot, http: httpx.Client):
    handed_off = handed_off_by_api(http, "請幫我轉接真人客服，我想問會員優惠")

    page = new_page()
    admin = AdminPages(page).log_in()
    admin.tab("Dashboard")
    body = page.locator("#dash-body")
    expect(body).to_have_attribute("data-loaded", re.compile(r"^\d{4}-.*/$"))
    card = page.locator('.metric[data-key="profile_completeness"]')
    expect(card.locator(".value")).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(card.locator(".def")).not_to_be_empty()
    expect(page.locator("#profile-mean")).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(page.locator('#profile-fields tr[data-field="verified_email"]')).to_have_count(1)
    expect(page.locator('#profile-fields tr[data-field="channels"]')).to_contain_text("100.0%")
    expect(page.locator("#def-profile")).not_to_be_empty()
    expect(page.locator("#def-baseline")).not_to_be_empty()
    expect(page.locator("#conversion-note")).to_contain_text("causation")
    shot(page, "profile-completeness")

    # A field of the shop's own, counted in completeness
    page.locator("#custom-fields summary").click()
    form = page.locator("#custom-field-form")
    form.get_by_label(re.compile("代號")).fill("vip_level")
    form.get_by_label(re.compile("Label \\(Chinese")).fill("會員等級")
    form.get_by_label(re.compile("Label \\(English")).fill("VIP level")
    form.locator("#cf-kind").select_option("choice")
    form.get_by_label(re.compile("選項")).fill("銀, 金")
    form.get_by_label(re.compile("Count in completeness")).check()
    admin.button("新增欄位").click()
    expect(page.locator('#custom-field-list li[data-field="vip_level"]')).to_contain_text(
        "VIP level"
    )
    expect(page.locator('#profile-fields tr[data-field="field:vip_level"]')).to_have_attribute(
        "data-wanted", "yes"
    )
    shot(page, "custom-field-defined")

    # The channel selector filters every number, and the exports follow it (up to tomorrow:
    # the shop's days are Taipei's, ahead of the browser's UTC)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    page.locator("#dash-to").fill(tomorrow)
    page.locator("#dash-channel").select_option("line")
    admin.button("Apply").click()
    expect(body).to_have_attribute("data-loaded", re.compile(r"/line$"))
    assert "channel=line" in (page.locator("#export-csv").get_attribute("href") or "")
    assert "channel=line" in (page.locator("#audience-csv").get_attribute("href") or "")
    page.locator("#dash-channel").select_option("web")
    admin.button("Apply").click()
    expect(body).to_have_attribute("data-loaded", re.compile(r"/web$"))
    engaged = page.locator('.metric[data-key="engaged_conversations"] button.value')
    assert int(re.sub(r"\D.*", "", engaged.inner_text())) >= 1
    exported = page.request.get(page.locator("#export-csv").get_attribute("href") or "")
    assert exported.ok and "conversion_rate" in exported.text()
    assert "profile_completeness" in exported.text()
    shot(page, "dashboard-web-only")

    # In the console, an agent fills in the field and records the customer's opt-in
    agent_page = new_page()
    console = Console(agent_page).log_in("alice")
    console.open(handed_off)
    box = agent_page.locator("#profile-box")
    expect(box.locator("#profile-completeness")).to_contain_text("%")
    expect(box.locator("#profile-consent")).to_have_attribute("data-consent", "none")
    box.get_by_label(re.compile("會員等級")).select_option("金")
    box.get_by_role("button", name=re.compile("Save.*VIP level")).click()
    expect(box.get_by_label(re.compile("會員等級"))).to_have_value("金")
    box.locator("#consent-choice").select_option("true")
    box.locator("#consent-source").select_option("conversation")
    box.get_by_role("button", name=re.compile("Record")).click()
    expect(box.locator("#profile-consent")).to_have_attribute("data-consent", "true")
    expect(box.locator("#profile-consent")).to_contain_text("Opted in")
    shot(agent_page, "profile-in-the-console")

    audience = page.request.get("/api/admin/audience.csv")
    assert audience.ok
    rows = list(csv.DictReader(io.StringIO(audience.text().lstrip("\ufeff"))))
    mine = [r for r in rows if f"conversation:{handed_off}" in r["identities"]]
    assert len(mine) == 1 and mine[0]["contactable"] == "yes"
    assert mine[0]["field:vip_level"] == "金" and mine[0]["consent_source"] == "conversation"


def test_two_widget_conversations_linked_with_a_one_time_code(new_page, shot):
    first_page = new_page()
    first = Widget(first_page).open()
    first.ask("運費怎麼算？")
    expect(first.log.locator(".msg.bot")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    first_page.get_by_role("button", name=re.compile("LINE 或 Messenger")).click()
    code_line = first.log.locator(".system", has_text="KF-")
    expect(code_line).to_have_count(1)
    code = re.search(r"KF-\d{6}", code_line.inner_text()).group(0)  # type: ignore[union-attr]
    shot(first_page, "a-code-to-send-on-line")

    second_page = new_page()
    second = Widget(second_page).open()
    second.ask("退貨要怎麼申請？")
    expect(second.log.locator(".msg.bot")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    second.ask("KF-000000" if code != "KF-000000" else "KF-000001")
    expect(second.log.locator(".system", has_text="不正確")).to_have_count(1)
    second.ask(code.lower())
    expect(second.log.locator(".system", has_text="已完成連結")).to_have_count(1)
    # the codes were never questions for the bot
    assert second.messages("customer") == ["退貨要怎麼申請？"]
    shot(second_page, "linked-in-the-widget")

    admin_page = new_page()
    AdminPages(admin_page).log_in()
    view = admin_page.request.get(f"/api/agent/customers/conversation:{first.conversation_id}")
    assert view.ok, view.text()
    assert set(view.json()["identities"]) == {
        f"conversation:{first.conversation_id}",
        f"conversation:{second.conversation_id}",
    }
