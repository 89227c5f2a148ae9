"""The customer keeps a copy of their own conversation: the widget's download button saves a
text file with their messages and the replies, and is there only once there is a conversation."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TURN_TIMEOUT_MS, Widget

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]


def test_the_customer_downloads_their_conversation(new_page, shot):
    page = new_page()
    widget = Widget(page).open()
    download_button = page.get_by_role("button", name="下載這段對話的紀錄（文字檔）")
    expect(download_button).to_be_hidden()  # nothing to copy yet
    widget.ask("鑑賞期是幾天？")
    answered = widget.log.locator(".msg.bot.answered")
    expect(answered).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    expect(download_button).to_be_visible()
    expect(download_button).to_have_text("下載對話紀錄")
    shot(page, "download-button")

    with page.expect_download() as started:
        download_button.click()
    download = started.value
    assert download.suggested_filename == f"conversation-{widget.conversation_id}.txt"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert "鑑賞期是幾天？" in text
    [reply] = widget.messages("bot")
    assert "[" in text and "] 您:" in text and "] AI 助理:" in text
    assert reply.strip()[:12] in text  # the bot's answer, as the customer saw it

    page.get_by_role("button", name="Switch to English").click()
    expect(
        page.get_by_role("button", name="Download this conversation (a text file)")
    ).to_have_text("Download")
