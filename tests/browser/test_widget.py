"""The customer widget on the demo shop page: answers with citations, a refusal that leads to a
person, and a transcript that survives a reload without showing anything twice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.browser.conftest import TURN_TIMEOUT_MS, Widget

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]


def test_a_faq_question_in_zh_is_answered_with_its_citation(new_page, shot):
    page = new_page()
    widget = Widget(page).open()
    shot(page, "widget-open")

    widget.ask("退貨要怎麼申請？")
    expect(widget.log.locator(".msg.customer")).to_have_text(re.compile("退貨要怎麼申請？"))
    answer = widget.log.locator(".msg.bot.answered")
    expect(answer).to_contain_text("我的訂單", timeout=TURN_TIMEOUT_MS)
    # the source is the FAQ's question, not a file with its sheet and row, nor the raw row
    expect(answer.locator(".cite-label").first).to_have_text("退貨要怎麼申請？")
    cites = answer.locator(".cites")
    expect(cites).not_to_contain_text(re.compile(r"第 ?\d+ ?列|shop_faq|問題:|答案:|分類|更新日期"))
    expect(answer.locator(".cite-snippet")).to_have_count(0)
    expect(answer.locator("a.cite-label")).to_have_count(0)  # the demo FAQ has no public URL
    shot(page, "answer-with-citation")

    answer.get_by_role("button", name="有幫助").click()
    expect(answer.get_by_role("button", name="有幫助")).to_have_attribute("aria-pressed", "true")
    expect(answer).to_contain_text("謝謝您的回饋！")
    shot(page, "feedback-given")


def test_an_off_topic_question_is_refused_and_the_customer_gets_in_the_queue(new_page, shot):
    page = new_page()
    widget = Widget(page).open()

    widget.ask("今天台北天氣如何？")
    refusal = widget.log.locator(".msg.bot.refused")
    expect(refusal).to_contain_text("找不到", timeout=TURN_TIMEOUT_MS)
    shot(page, "refused")

    refusal.get_by_role("button", name="轉接真人客服").click()
    expect(widget.status).to_have_text(re.compile(r"^已為您轉接專人，目前排第 \d+ 位$"))
    expect(refusal.get_by_role("button", name="轉接真人客服")).to_be_disabled()
    shot(page, "waiting-with-position")

    widget.ask("請問大概要等多久？")
    sent = widget.log.locator(".msg.customer").last
    expect(sent).to_have_attribute("data-status", "delivered")
    expect(sent).to_contain_text("專人會在這裡回覆您")
    expect(widget.log.locator(".msg.bot")).to_have_count(1)  # the bot stays quiet now
    shot(page, "message-while-waiting")

    page.get_by_role("button", name="Switch to English").click()
    expect(widget.status).to_have_text(
        re.compile(r"^You're connected to the queue — you are number \d+$")
    )
    expect(sent.locator(".meta")).to_contain_text("A person will reply here")
    shot(page, "waiting-in-english")


def test_a_reload_mid_conversation_brings_the_transcript_back_once(new_page, shot):
    page = new_page()
    widget = Widget(page).open()
    widget.ask("運費怎麼算？多少錢免運？")
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    widget.log.locator(".msg.bot.answered").get_by_role("button", name="有幫助").click()
    expect(widget.log.locator(".thanks")).to_have_count(1)
    widget.ask("鑑賞期是幾天？")
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(2, timeout=TURN_TIMEOUT_MS)
    before = widget.messages("customer"), widget.messages("bot")
    conversation_id = widget.conversation_id
    shot(page, "before-reload")

    page.reload()
    expect(widget.panel).to_be_visible()  # it was open: it opens again
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(2)
    assert widget.conversation_id == conversation_id
    assert (widget.messages("customer"), widget.messages("bot")) == before
    expect(widget.log.locator(".thanks")).to_have_count(1)
    seqs = widget.seqs()
    assert len(seqs) == len(set(seqs)), f"an event is shown twice: {seqs}"
    shot(page, "after-reload")

    # the stream reconnected after the last seq: a new turn comes once, nothing old again
    expect(page.locator("#kefu-widget")).to_have_attribute("data-connected", "true")
    widget.ask("有哪些付款方式？")
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(3, timeout=TURN_TIMEOUT_MS)
    expect(widget.log.locator(".msg.customer")).to_have_count(3)
    seqs = widget.seqs()
    assert len(seqs) == len(set(seqs)), f"an event is shown twice: {seqs}"
    shot(page, "after-reload-next-answer")


def test_the_widget_works_by_keyboard_alone(new_page, shot):
    page = new_page()
    page.goto("/demo")
    launcher = page.get_by_role("button", name=re.compile("開啟線上客服"))
    launcher.focus()
    page.keyboard.press("Enter")
    widget = Widget(page)
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    expect(launcher).to_be_hidden()
    page.keyboard.type("鑑賞期是幾天？")
    page.keyboard.press("Enter")
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    shot(page, "answered-by-keyboard")

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    shot(page, "closed-with-escape")


def test_a_dropped_stream_reconnects_after_the_last_seq_and_misses_nothing(new_page, shot, http):
    page = new_page()
    streams: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        streams.append(ws)

    page.route_web_socket(re.compile(r"/api/conversations/[^/]+/events"), through)
    widget = Widget(page).open()
    widget.ask("鑑賞期是幾天？")
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    assert streams and "?after=0&token=" in streams[0].url
    last_seq = max(int(s) for s in widget.seqs())

    streams[0].close(code=1012, reason="service restart")  # the server went away
    expect(page.locator("#kefu-widget")).to_have_attribute("data-connected", "false")
    # meanwhile the conversation goes on (the customer's other tab)
    conversation_id = widget.conversation_id
    http.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "運費怎麼算？"},
        headers=widget.opened,
    )
    expect(widget.log.locator(".msg.bot.answered")).to_have_count(2, timeout=TURN_TIMEOUT_MS)
    expect(page.locator("#kefu-widget")).to_have_attribute("data-connected", "true")
    assert f"?after={last_seq}&token=" in streams[-1].url
    assert widget.messages("customer") == ["鑑賞期是幾天？", "運費怎麼算？"]
    seqs = widget.seqs()
    assert len(seqs) == len(set(seqs)), f"an event is shown twice: {seqs}"
    shot(page, "reconnected")


def test_a_vague_question_offers_options_as_buttons(new_page, shot):
    page = new_page()
    widget = Widget(page).open()
    # 保固: how long the warranty lasts, or what it does not cover?
    widget.ask("保固")
    clarifying = widget.log.locator(".msg.bot.clarifying")
    expect(clarifying).to_be_visible(timeout=TURN_TIMEOUT_MS)
    options = clarifying.locator("button.option")
    expect(options).to_contain_text(["哪些情況不在保固範圍內？", "商品保固多久？"])
    shot(page, "options")

    options.filter(has_text="商品保固多久？").click()
    expect(widget.log.locator(".msg.customer").last).to_contain_text("商品保固多久？")
    answer = widget.log.locator(".msg.bot.answered")
    expect(answer).to_contain_text("1 年保固", timeout=TURN_TIMEOUT_MS)
    shot(page, "option-answered")


def test_an_unsure_question_offers_the_closest_answers_and_one_tap_answers_it(new_page, shot):
    page = new_page()
    widget = Widget(page).open()
    # below the refusal threshold, yet its words are in the knowledge: no flat refusal
    widget.ask("可以拿去7-11退貨嗎")
    offered = widget.log.locator(".msg.bot.clarifying")
    expect(offered).to_contain_text("最接近的內容", timeout=TURN_TIMEOUT_MS)
    options = offered.locator("button.option")
    expect(options.filter(has_text="超商取貨的訂單可以到超商退貨嗎？")).to_have_count(1)
    assert 2 <= options.count() <= 3
    expect(offered.get_by_role("button", name=re.compile("轉接真人客服"))).to_be_visible()
    shot(page, "closest-answers-offered")

    options.filter(has_text="超商取貨的訂單可以到超商退貨嗎？").click()
    answer = widget.log.locator(".msg.bot.answered")
    expect(answer).to_contain_text("超商退貨", timeout=TURN_TIMEOUT_MS)
    shot(page, "offered-answer-picked")


def test_an_english_answer_names_the_faq_question_as_its_source(new_page, shot):
    page = new_page()
    widget = Widget(page).open()
    widget.ask("How long does delivery take?")
    answer = widget.log.locator(".msg.bot.answered")
    expect(answer).to_contain_text("business days", timeout=TURN_TIMEOUT_MS)
    expect(answer.locator(".cite-label").first).to_have_text("How long does delivery take?")
    expect(answer.locator(".cites")).not_to_contain_text(
        re.compile(r"\brow \d+|xlsx|English FAQ|Question:|Answer:|Category|Updated")
    )
    shot(page, "english-answer-with-its-question-as-source")
