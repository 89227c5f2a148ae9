"""The widget tells the customer who answers: its first message says an AI assistant does,
that a person is available, and links the shop's privacy notice, in the customer's language.
The conversation it starts opens only with the customer token it keeps."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PRIVACY_URL, TURN_TIMEOUT_MS, Widget

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]


def test_the_first_message_says_an_ai_answers_and_links_the_privacy_notice(new_page, shot):
    page = new_page()
    widget = Widget(page).open()
    notice = widget.log.locator("li.notice")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("AI 客服助理")
    expect(notice).to_contain_text("轉接真人客服")
    link = notice.get_by_role("link", name="隱私權政策")
    expect(link).to_have_attribute("href", PRIVACY_URL)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    # "talk to a person" is one step away from the start
    expect(page.get_by_role("button", name="轉接真人客服")).to_be_enabled()
    shot(page, "ai-notice-zh")

    page.get_by_role("button", name="Switch to English").click()
    expect(notice).to_contain_text("AI assistant")
    expect(notice).to_contain_text("A person is always available")
    expect(notice.get_by_role("link", name="Privacy notice")).to_have_attribute("href", PRIVACY_URL)
    shot(page, "ai-notice-en")


def test_the_widget_keeps_the_customer_token_and_the_id_alone_opens_nothing(new_page, server):
    page = new_page()
    widget = Widget(page).open()
    widget.ask("鑑賞期是幾天？")
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    conversation_id = widget.conversation_id
    saved = page.evaluate(
        """() => Object.keys(localStorage).filter(k => k.startsWith("kefu:conversation:"))
                 .map(k => localStorage.getItem(k))"""
    )
    [kept] = [json.loads(s) for s in saved]
    assert kept["id"] == conversation_id and len(kept["token"]) >= 40

    status = page.evaluate(
        """async ([id, token]) => {
          const bare = await fetch(`/api/conversations/${id}`);
          const opened = await fetch(`/api/conversations/${id}`,
                                     {headers: {Authorization: `Bearer ${token}`}});
          return [bare.status, opened.status];
        }""",
        [conversation_id, kept["token"]],
    )
    assert status == [404, 200]

    # a reload opens the conversation with the kept token: the transcript comes back
    page.reload()
    expect(widget.panel).to_be_visible()  # it was open: it opens again
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    assert widget.conversation_id == conversation_id
    expect(widget.log.locator("li.notice")).to_have_count(1)
