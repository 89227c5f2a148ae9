"""A customer and agents in real browsers: an angry customer is handed off, an agent claims
the conversation in the console, replies, resolves, and the customer answers the survey; two
agents claiming the same conversation."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.browser.conftest import TURN_TIMEOUT_MS, Console, Widget, handed_off_by_api

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

ANGRY = "你們到底在搞什麼！！我已經等了兩個禮拜，東西還沒到，氣死我了"


def test_an_angry_customer_reaches_an_agent_who_replies_resolves_and_gets_rated(
    new_page, shot, http: httpx.Client
):
    customer = new_page()
    widget = Widget(customer).open()
    widget.ask(ANGRY)
    expect(widget.log.locator(".msg.bot.handed_off")).to_be_visible(timeout=TURN_TIMEOUT_MS)
    expect(widget.status).to_have_text(re.compile(r"^已為您轉接專人，目前排第 \d+ 位$"))
    conversation_id = widget.conversation_id
    shot(customer, "customer-handed-off")

    agent = new_page()
    console = Console(agent).log_in("alice")
    entry = console.entry(conversation_id)
    expect(entry).to_contain_text("客戶情緒激動")
    expect(entry).to_contain_text("氣死我了")
    shot(agent, "agent-queue")

    console.open(conversation_id)
    expect(agent.locator("#packet-trigger")).to_contain_text("Upset customer")
    expect(agent.locator("#packet-trigger")).to_contain_text("氣死我了")
    expect(agent.locator("#packet-sentiment")).to_contain_text("氣死我了")
    expect(console.transcript.locator(".customer").first).to_have_text(re.compile(re.escape(ANGRY)))
    shot(agent, "agent-packet")

    console.button("Claim").click()
    expect(console.status).to_contain_text("You own it")
    expect(console.error).to_be_empty()
    expect(widget.log.locator(".msg.system", has_text="專人 Alice 王 已加入對話")).to_have_count(1)
    expect(widget.status).to_have_text("正在與專人 Alice 王 對話")
    shot(agent, "agent-claimed")
    shot(customer, "customer-sees-agent-joined")

    # typing, both ways
    console.reply_box.press_sequentially("您好")
    expect(widget.typing).to_have_text("Alice 王 正在輸入…")
    widget.input.press_sequentially("好")
    expect(agent.locator("#customer-typing")).to_contain_text("客戶正在輸入")
    widget.input.fill("")
    console.reply_box.fill("")

    reply = "非常抱歉讓您久等了！我是 Alice，已經幫您查到包裹，明天會送達。"
    console.reply(reply)
    agent_bubble = widget.log.locator(".msg.agent")
    expect(agent_bubble).to_have_count(1)
    expect(agent_bubble).to_contain_text(reply)
    expect(agent_bubble.locator(".who")).to_have_text("專人 Alice 王")
    expect(widget.typing).to_be_empty()
    shot(customer, "customer-sees-reply")

    widget.ask("好，謝謝你")
    expect(console.transcript.locator(".customer")).to_have_count(2)
    expect(widget.log.locator(".msg.customer").last).to_have_attribute("data-status", "delivered")

    # a reload mid-conversation: everything comes back, once
    before = widget.messages("customer"), widget.messages("bot"), widget.messages("agent")
    customer.reload()
    expect(widget.log.locator(".msg.agent")).to_have_count(1)
    assert (widget.messages("customer"), widget.messages("bot"), widget.messages("agent")) == before
    expect(widget.log.locator(".msg.system", has_text="已加入對話")).to_have_count(1)
    expect(widget.status).to_have_text("正在與專人 Alice 王 對話")
    seqs = widget.seqs()
    assert len(seqs) == len(set(seqs)), f"an event is shown twice: {seqs}"
    expect(customer.locator("#kefu-widget")).to_have_attribute("data-connected", "true")
    shot(customer, "customer-after-reload")

    console.button("Resolve").click()
    expect(console.status).to_contain_text("Resolved")
    survey = widget.log.locator("form[data-kefu=survey]")
    expect(survey).to_be_visible()
    expect(survey).to_contain_text("這次取得協助有多容易？")
    shot(customer, "customer-survey")

    survey.get_by_role("button", name="送出評分").click()
    expect(survey.get_by_role("alert")).to_have_text("請選擇兩題的分數後再送出。")
    satisfied = survey.get_by_role("group", name="整體而言，您對這次服務滿意嗎？")
    easy = survey.get_by_role("group", name="這次取得協助有多容易？")
    expect(satisfied.get_by_role("radio")).to_have_count(5)
    expect(easy.get_by_role("radio")).to_have_count(7)
    satisfied.get_by_role("radio", name="4", exact=True).check()
    easy.get_by_role("radio", name="6", exact=True).check()
    survey.get_by_label("其他意見（選填）").fill("Alice 很有耐心")
    shot(customer, "customer-survey-filled")
    survey.get_by_role("button", name="送出評分").click()
    expect(widget.log.locator(".survey-thanks")).to_contain_text("感謝您的評分")
    expect(widget.log.locator(".survey-thanks")).to_contain_text("滿意度 4/5，容易程度 6/7")
    expect(survey).to_have_count(0)
    shot(customer, "customer-thanked")

    events = http.get(f"/api/conversations/{conversation_id}", headers=widget.opened).json()[
        "events"
    ]
    answered = [e["data"] for e in events if e["kind"] == "survey_answered"]
    assert len(answered) == 1
    assert (answered[0]["csat"], answered[0]["ces"], answered[0]["comment"]) == (
        4,
        6,
        "Alice 很有耐心",
    )
    expect(console.transcript.locator(".survey")).to_contain_text("CSAT 4/5 · CES 6/7")
    shot(agent, "agent-sees-survey")


def test_of_two_agents_claiming_one_conversation_one_wins_and_the_other_is_told(
    new_page, shot, http: httpx.Client
):
    conversation_id = handed_off_by_api(http)
    alice = Console(new_page()).log_in("alice")
    bob_page = new_page()

    # Bob's view of the conversation stays as he opened it (a slow connection): his stream
    # connects but never hears that Alice claimed it, so he too clicks Claim.
    def held_back(ws: WebSocketRoute) -> None:
        pass

    bob_page.route_web_socket(re.compile(r"/api/agent/conversations/[^/]+/events"), held_back)
    bob = Console(bob_page).log_in("bob")

    alice.open(conversation_id)
    bob.open(conversation_id)
    expect(alice.button("Claim")).to_be_enabled()
    expect(bob.button("Claim")).to_be_enabled()
    shot(bob.page, "both-see-it-waiting")

    alice.button("Claim").click()
    expect(alice.status).to_contain_text("You own it")
    bob.button("Claim").click()
    expect(bob.error).to_contain_text("Alice 王 has already claimed this conversation.")
    expect(bob.error).to_contain_text("這段對話已由 Alice 王 接手。")
    shot(alice.page, "alice-won")
    shot(bob.page, "bob-told")

    expect(alice.error).to_be_empty()
    conversation = http.get(f"/api/conversations/{conversation_id}").json()["conversation"]
    assert (conversation["status"], conversation["agent_name"]) == ("with_agent", "Alice 王")
    # the queue, which Bob does hear, shows who has it
    expect(bob.entry(conversation_id)).to_contain_text(re.compile("alice", re.IGNORECASE))
