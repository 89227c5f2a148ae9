"""A customer sends a photo of a defect from the widget and the agent sees it in the console
(the transcript and the packet), then sends a picture back that the customer sees; an SVG
renamed .png is refused in the widget with the server's words."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.bot.attachments.pictures import SVG, picture
from tests.browser.conftest import TURN_TIMEOUT_MS, Console, Widget

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

PHOTO = picture("jpeg", (64, 48))
ANSWER = picture("png", (30, 20))


def loaded_width(image) -> int:  # type: ignore[no-untyped-def]
    """The width the browser decoded the picture to (0 while it is not shown)."""
    image.evaluate("i => i.decode ? i.decode().catch(() => {}) : null")
    return int(image.evaluate("i => i.complete ? i.naturalWidth : 0"))


def test_a_customer_s_photo_reaches_the_agent_and_the_agent_s_picture_the_customer(new_page, shot):
    customer = new_page()
    widget = Widget(customer).open()
    widget.ask("我收到的茶壺有裂痕，要怎麼退貨？")
    expect(widget.log.locator(".msg.bot").last).to_be_visible(timeout=TURN_TIMEOUT_MS)
    customer.get_by_role("button", name="轉接真人客服").click()
    expect(widget.status).to_have_text(re.compile("目前排第 \\d+ 位"))
    conversation_id = widget.conversation_id

    files = customer.locator('[data-kefu="picture-file"]')
    # an SVG named like a photo: refused, in the customer's language, nothing sent
    files.set_input_files(files=[{"name": "defect.png", "mimeType": "image/png", "buffer": SVG}])
    refused = widget.log.locator('[data-kefu="picture-refused"]')
    expect(refused).to_contain_text("只能傳送 JPEG、PNG、GIF 或 WebP 圖片")
    shot(customer, "customer-svg-refused")

    files.set_input_files(files=[{"name": "裂痕.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}])
    sent = widget.log.locator(".msg.picture.customer img")
    expect(sent).to_have_count(1)
    expect(sent).to_have_attribute("src", re.compile("^blob:"))
    assert loaded_width(sent) == 64
    expect(widget.log.locator(".msg.picture.customer .meta")).to_contain_text("已送出")
    shot(customer, "customer-sent-photo")

    agent = new_page()
    console = Console(agent).log_in("alice")
    console.open(conversation_id)
    thumb = console.transcript.locator(".picture img.thumb")
    expect(thumb).to_have_count(1)
    expect(thumb).to_be_visible()
    assert loaded_width(thumb) == 64
    link = console.transcript.locator(".picture a.picture-link")
    expect(link).to_have_attribute(
        "href",
        re.compile(f"/api/agent/conversations/{conversation_id}/attachments/[0-9a-f]{{32}}$"),
    )
    expect(console.transcript.locator(".picture .meta")).to_contain_text("image/jpeg · 64×48")
    expect(agent.locator("#packet-pictures img")).to_have_count(1)
    shot(agent, "agent-sees-photo")

    # the full picture, opened as the link opens it: an image, and nothing that could run
    served = agent.request.get(link.get_attribute("href") or "")
    assert served.status == 200 and served.body() == PHOTO
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"

    console.button("Claim").click()
    expect(console.status).to_contain_text("You own it")
    agent.locator("#picture-file").set_input_files(
        files=[{"name": "how-to-pack.png", "mimeType": "image/png", "buffer": ANSWER}]
    )
    expect(console.transcript.locator(".agent.picture img.thumb")).to_have_count(1)
    expect(console.error).to_be_empty()

    answer = widget.log.locator(".msg.picture.agent img")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("src", re.compile("^blob:"))
    assert loaded_width(answer) == 30
    expect(widget.log.locator(".msg.picture.agent .who")).to_contain_text("Alice 王")
    shot(customer, "customer-sees-agent-picture")
