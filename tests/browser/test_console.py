"""The agents' console: markup from a customer or an agent is shown as text and never runs; a
lost session or a wrong password is told on the log-in form; canned replies, private notes and
knowledge drafts."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import TURN_TIMEOUT_MS, Console, Widget, handed_off_by_api

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"
AGENT_MARKUP = "<b>粗體</b><img src=y onerror=alert(3)>"


def watch_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return seen


def test_markup_from_a_customer_or_an_agent_is_shown_as_text_and_never_runs(new_page, shot):
    customer = new_page()
    customer_dialogs = watch_dialogs(customer)
    widget = Widget(customer).open()
    widget.ask(IMG)
    expect(widget.log.locator(".msg.bot")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    widget.ask(SCRIPT)
    expect(widget.log.locator(".msg.bot")).to_have_count(2, timeout=TURN_TIMEOUT_MS)
    assert widget.messages("customer") == [IMG, SCRIPT]
    talk = customer.locator("#kefu-panel button.talk")
    if talk.is_enabled():  # the bot may have handed off by itself
        talk.click()
    expect(widget.status).to_have_text(re.compile("目前排第 \\d+ 位"))
    conversation_id = widget.conversation_id
    shot(customer, "customer-sent-markup")

    agent = new_page()
    agent_dialogs = watch_dialogs(agent)
    console = Console(agent).log_in("alice")
    expect(console.entry(conversation_id)).to_contain_text(SCRIPT)  # the last message, as text
    console.open(conversation_id)
    texts = console.transcript.locator(".customer .text")
    expect(texts).to_have_text([IMG, SCRIPT])
    # the packet's question: the message that was handed off, still text
    expect(agent.locator("#packet-trigger")).to_contain_text(
        re.compile(f"{re.escape(IMG)}|{re.escape(SCRIPT)}")
    )
    shot(agent, "agent-sees-text")

    console.button("Claim").click()
    expect(console.status).to_contain_text("You own it")
    console.reply(AGENT_MARKUP)
    expect(widget.log.locator(".msg.agent .text")).to_have_text(AGENT_MARKUP)
    expect(console.transcript.locator(".agent .text")).to_have_text(AGENT_MARKUP)
    shot(customer, "customer-sees-agent-markup-as-text")

    for page in (agent, customer):
        assert page.locator("#transcript img, #kefu-panel img, #queue img").count() == 0
        assert page.locator("#transcript b, #kefu-panel b, #transcript script").count() == 0
    assert agent.evaluate("document.querySelectorAll('img').length") == 0
    assert customer_dialogs == [] and agent_dialogs == []
    shot(agent, "agent-no-dialog")


def test_a_lost_session_brings_back_the_log_in_with_a_message(new_page, shot, http: httpx.Client):
    conversation_id = handed_off_by_api(http)
    page = new_page()
    console = Console(page).log_in("bob")
    shot(page, "logged-in")

    page.context.clear_cookies()  # as when the session ends on the server
    # The console's own stream or refresh may be refused first and bring the log-in back
    # before the click: the click is dispatched either way, visible entry or not.
    console.entry(conversation_id).dispatch_event("click")
    login = page.locator("#login-view")
    expect(login).to_be_visible()
    expect(page.locator("#login-message")).to_contain_text("請先登入。 / Please log in.")
    shot(page, "log-in-again")

    console.log_in("bob")
    expect(page.locator("#login-view")).to_be_hidden()
    console.open(conversation_id)
    shot(page, "back-in")


def test_wrong_password_is_refused_with_a_message(new_page, shot):
    page = new_page()
    page.goto("/console")
    page.get_by_label(re.compile("帳號")).fill("alice")
    page.get_by_label(re.compile("密碼")).fill("not-her-password")
    page.get_by_role("button", name=re.compile("登入")).click()
    expect(page.locator("#login-message")).to_contain_text("Wrong username or password.")
    expect(page.locator("#desk")).to_be_hidden()
    shot(page, "wrong-password")


def test_canned_replies_private_notes_and_knowledge_drafts(new_page, shot, http: httpx.Client):
    conversation_id = handed_off_by_api(http, "我要找真人客服，退貨到底要怎麼申請？")
    page = new_page()
    console = Console(page).log_in("alice")
    # what the customer asked about is tagged, in the queue and on the packet
    entry = page.locator(f'#queue [data-conversation-id="{conversation_id}"]')
    expect(entry).to_contain_text("退換貨")
    console.open(conversation_id)
    expect(page.locator("#packet-customer")).to_contain_text("退換貨")
    console.button("Claim").click()
    expect(console.status).to_contain_text("You own it")

    search = page.get_by_role("searchbox", name=re.compile("搜尋知識庫"))
    search.fill("退貨要怎麼申請")
    hits = page.locator("#canned-results li")
    expect(hits.first).to_contain_text("我的訂單")
    shot(page, "canned-replies")
    hits.first.get_by_role("button", name=re.compile("Insert")).click()
    expect(console.reply_box).to_have_value(re.compile("我的訂單"))
    expect(console.reply_box).to_be_focused()
    answer = console.reply_box.input_value()
    console.reply_box.press("Enter")
    expect(console.transcript.locator(".agent .text")).to_have_text([answer])
    expect(console.reply_box).to_have_value("")

    note = page.get_by_role("textbox", name=re.compile("私人備註"))
    note.fill("客戶上週也問過，記得提醒超商退貨")
    console.button("Add note").click()
    private = console.transcript.locator(".note")
    expect(private).to_contain_text("客戶上週也問過")
    expect(private).to_contain_text("Private note")
    shot(page, "reply-and-private-note")

    console.button("Save my reply as a knowledge draft").click()
    expect(page.locator("#draft-status")).to_contain_text("pending")
    expect(console.transcript.locator("[data-kind=knowledge_draft_saved]")).to_have_count(1)
    shot(page, "draft-saved")

    kinds = [e["kind"] for e in http.get(f"/api/conversations/{conversation_id}").json()["events"]]
    assert "agent_replied" in kinds
    assert "agent_noted" not in kinds and "knowledge_draft_saved" not in kinds
