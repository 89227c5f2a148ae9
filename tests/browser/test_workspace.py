"""The agents' workspace in real browsers: two agents with auto-assignment and a transfer with
a note; a new handoff raises the count in the tab title; a saved reply inserted by its
shortcut; history search finds a resolved conversation and opens it; the phone layout."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import AGENTS, Console, add_staff, handed_off_by_api, pages_on
from tests.conftest import QUEUE_ALWAYS, ingested_demo_copy, kefu_server
from tests.customer_tokens import as_customer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]


def asks_for_a_person(customer: httpx.Client, text: str) -> str:
    """A conversation handed off once: by the gate, or else by the widget's button (the
    button pressed again later would hand it off anew)."""
    conversation_id = customer.post("/api/conversations", json={"channel": "web"}).json()["id"]
    customer.post(f"/api/conversations/{conversation_id}/messages", json={"text": text})
    status = customer.get(f"/api/conversations/{conversation_id}").json()["conversation"]["status"]
    if status == "bot":
        assert customer.post(f"/api/conversations/{conversation_id}/handoff").status_code == 200
    return conversation_id


def agent_session(base_url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=60)
    response = client.post(
        "/api/auth/login", json={"username": username, "password": AGENTS[username][1]}
    )
    assert response.status_code == 200, response.text
    return client


# ---- two agents, auto-assignment and a transfer (a server of its own, auto-assign on) -------


@pytest.fixture(scope="module")
def auto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = ingested_demo_copy(tmp_path_factory, "browser-auto")
    add_staff(data)
    # handoffs queue at any hour (the test may run at night, Taipei time)
    with kefu_server(data, settings={"KEFU_DESK__AUTO_ASSIGN": "true", **QUEUE_ALWAYS}) as url:
        yield url


@pytest.fixture
def auto_page(browser: Browser, auto_server: str) -> Iterator[Callable[[], Page]]:
    with pages_on(browser, auto_server) as make:
        yield make


def test_two_agents_get_handoffs_by_turns_and_one_transfers_with_a_note(
    auto_page, auto_server: str, shot
):
    alice_page, bob_page = auto_page(), auto_page()
    alice = Console(alice_page).log_in("alice")
    bob = Console(bob_page).log_in("bob")
    with as_customer(httpx.Client(base_url=auto_server, timeout=60)) as customer:
        team = agent_session(auto_server, "alice")
        online = [
            a["username"] for a in team.get("/api/agent/agents").json()["agents"] if a["online"]
        ]
        assert sorted(online) == ["alice", "bob"]

        first = asks_for_a_person(customer, "請幫我轉接真人客服，我要退貨")
        expect(alice.entry(first)).to_contain_text("Alice 王")
        second = asks_for_a_person(customer, "我要找真人，發票開錯了")
        # alice has one already: the next goes to bob
        expect(bob.entry(second)).to_contain_text("Bob 林")
        expect(alice.entry(second)).to_contain_text("Bob 林")
        shot(alice_page, "auto-assigned")
        # each was told: the count in the tab title
        expect(alice_page).to_have_title(re.compile(r"^\(\d+\) "))
        expect(bob_page).to_have_title(re.compile(r"^\(\d+\) "))

        alice.open(first)
        expect(alice.status).to_contain_text("You own it")
        alice.reply("您好，我是 Alice，馬上為您處理退貨。")
        alice_page.locator("#transfer-summary").click()
        expect(alice_page.locator("#transfer-to option")).to_have_count(2)  # bob and carol
        alice_page.locator("#transfer-to").select_option("bob")
        alice_page.locator("#transfer-note").fill("客戶要退 A100，發票已確認")
        alice_page.locator("#transfer-go").click()
        expect(alice.status).to_contain_text("Bob 林")
        expect(alice.transcript.locator(".note")).to_contain_text("客戶要退 A100")
        expect(alice_page.get_by_role("button", name=re.compile("Send reply"))).to_be_disabled()
        shot(alice_page, "transferred")

        expect(bob.entry(first)).to_contain_text("Bob 林")
        bob.open(first)
        expect(bob.status).to_contain_text("You own it")
        expect(bob.transcript.locator(".note")).to_contain_text("發票已確認")
        expect(bob.transcript.locator(".status-line").last).to_contain_text("Bob 林")
        bob.reply("我是 Bob，接手您的退貨。")
        shot(bob_page, "bob-has-it")

        # the reply is sent in the background: read the log once it holds it (or time out)
        deadline = time.monotonic() + 15
        while True:
            log = customer.get(f"/api/conversations/{first}").json()["events"]
            replies = [e["data"]["agent_name"] for e in log if e["kind"] == "agent_replied"]
            if len(replies) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert replies == ["Alice 王", "Bob 林"]
        assert all(e["kind"] != "agent_noted" for e in log)

        # bob puts the other one back in the queue: it waits again, nobody has it
        bob.open(second)
        bob.button("Unassign").click()
        expect(bob.status).to_contain_text("Waiting")
        team.close()


# ---- alerts -------------------------------------------------------------------------------


def test_a_new_handoff_raises_the_count_in_the_tab_title(new_page, shot, http: httpx.Client):
    page = new_page()
    Console(page).log_in("alice")
    expect(page.locator("#queue-state")).to_have_text("")  # the queue stream is up
    expect(page).to_have_title(re.compile(r"^kefu"))
    handed_off_by_api(http, "請幫我轉接真人客服")
    expect(page).to_have_title(re.compile(r"^\(1\) kefu"))
    handed_off_by_api(http, "我要找真人")
    expect(page).to_have_title(re.compile(r"^\(2\) kefu"))
    shot(page, "title-count")
    alerts = page.evaluate("window.kefuConsole.alerts")
    assert [a["kind"] for a in alerts] == ["handoff", "handoff"]
    assert all("title" in a["how"] for a in alerts)

    page.locator("#queue-pane").click()  # the agent is back: the count clears
    expect(page).to_have_title(re.compile(r"^kefu"))

    page.locator("#alerts summary").click()
    page.get_by_label(re.compile("分頁標題顯示數量")).uncheck()
    shot(page, "alert-settings")
    handed_off_by_api(http, "真人客服")
    page.wait_for_function("window.kefuConsole.alerts.length === 3")
    assert page.title().startswith("kefu")
    page.reload()  # the choice is kept
    expect(page.locator("#me")).to_be_visible()
    page.locator("#alerts summary").click()
    expect(page.get_by_label(re.compile("分頁標題顯示數量"))).not_to_be_checked()
    expect(page.get_by_label(re.compile("播放提示音"))).to_be_checked()


# ---- saved replies ------------------------------------------------------------------------

RETURN_TEXT = "退貨請到「我的訂單」按「申請退貨」，我們會寄送超商退貨碼給您。"


def test_a_saved_reply_is_added_and_inserted_by_its_shortcut(new_page, shot, http: httpx.Client):
    conversation_id = handed_off_by_api(http, "我要找真人客服，退貨怎麼辦？")
    page = new_page()
    console = Console(page).log_in("alice")
    console.open(conversation_id)
    console.button("Claim").click()
    expect(console.status).to_contain_text("You own it")

    page.get_by_role("tab", name=re.compile("Saved replies")).click()
    expect(page.locator("#saved-state")).to_contain_text(
        re.compile("No saved replies yet|saved replies")
    )
    page.get_by_role("textbox", name=re.compile("^快捷鍵")).fill("/退貨")
    page.get_by_role("textbox", name=re.compile("^標題")).fill("退貨流程")
    page.get_by_role("textbox", name=re.compile("^內容")).fill(RETURN_TEXT)
    page.locator("#saved-save").click()
    expect(page.locator('#saved-list li[data-shortcut="退貨"]')).to_contain_text("退貨流程")
    # the same shortcut again: refused, in both languages, and the form keeps what was typed
    page.get_by_role("textbox", name=re.compile("^快捷鍵")).fill("/退貨")
    page.get_by_role("textbox", name=re.compile("^標題")).fill("另一個")
    page.get_by_role("textbox", name=re.compile("^內容")).fill("另一段文字")
    page.locator("#saved-save").click()
    expect(page.locator("#saved-error")).to_contain_text("這個快捷鍵已經有人用了")
    expect(page.locator("#saved-error")).to_contain_text("That shortcut is taken")
    expect(page.get_by_role("textbox", name=re.compile("^內容"))).to_have_value("另一段文字")
    shot(page, "saved-reply-refused")

    console.reply_box.click()
    console.reply_box.press_sequentially("您好！/退")
    menu = page.locator("#slash-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("option").first).to_contain_text("/退貨")
    shot(page, "slash-menu")
    console.reply_box.press("Enter")
    expect(console.reply_box).to_have_value("您好！" + RETURN_TEXT)
    expect(menu).to_be_hidden()
    console.reply_box.press("Enter")
    expect(console.transcript.locator(".agent .text")).to_have_text(["您好！" + RETURN_TEXT])
    shot(page, "saved-reply-sent")
    log = http.get(f"/api/conversations/{conversation_id}").json()["events"]
    assert [e["data"]["text"] for e in log if e["kind"] == "agent_replied"] == [
        "您好！" + RETURN_TEXT
    ]


# ---- history ------------------------------------------------------------------------------


def test_history_search_finds_a_resolved_conversation_and_opens_it(
    new_page, shot, http: httpx.Client, server: str
):
    conversation_id = handed_off_by_api(http, "我要找真人客服，訂單 ZX-4417 的貨到了是壞的")
    bob = agent_session(server, "bob")
    assert bob.post(f"/api/agent/conversations/{conversation_id}/claim").status_code == 200
    bob.post(
        f"/api/agent/conversations/{conversation_id}/messages",
        json={"text": "已為您安排換貨"},
    )
    assert bob.post(f"/api/agent/conversations/{conversation_id}/resolve").status_code == 200
    bob.close()

    page = new_page()
    console = Console(page).log_in("alice")
    expect(console.entry(conversation_id)).to_have_count(0)  # resolved: not in the queue
    page.get_by_role("tab", name=re.compile("History")).click()
    page.get_by_role("searchbox", name=re.compile("^訊息內容")).fill("zx-4417")
    page.locator("#history-status").select_option("resolved")
    page.locator("#history-search").click()
    found = page.locator(f'#history-results button[data-conversation-id="{conversation_id}"]')
    expect(found).to_contain_text("已結案")
    expect(found).to_contain_text("ZX-4417")
    expect(page.locator("#history-state")).to_contain_text("1 found")
    shot(page, "history-found")
    found.click()
    expect(page.locator("#conversation")).to_have_attribute("data-conversation-id", conversation_id)
    expect(page.locator("#packet")).to_be_visible()
    expect(console.status).to_contain_text("Resolved")
    expect(console.transcript.locator(".agent .text")).to_have_text(["已為您安排換貨"])
    expect(page.locator("#packet-trigger")).to_contain_text("ZX-4417")
    shot(page, "history-opened")


# ---- a phone ------------------------------------------------------------------------------


def test_on_a_phone_the_queue_the_conversation_and_the_packet_are_tabs(
    new_page, shot, http: httpx.Client
):
    conversation_id = handed_off_by_api(http)
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    console = Console(page).log_in("alice")
    tabs = page.locator("#phone-tabs")
    expect(tabs).to_be_visible()
    expect(page.locator("#queue-pane")).to_be_visible()
    expect(page.locator("#conversation-pane")).to_be_hidden()
    expect(page.locator("#packet-pane")).to_be_hidden()
    shot(page, "phone-queue")
    console.entry(conversation_id).click()
    expect(page.locator("#conversation-pane")).to_be_visible()
    expect(page.locator("#queue-pane")).to_be_hidden()
    expect(console.reply_box).to_be_visible()
    shot(page, "phone-conversation")
    tabs.get_by_role("tab", name=re.compile("Packet")).click()
    expect(page.locator("#packet")).to_be_visible()
    expect(page.locator("#conversation-pane")).to_be_hidden()
    # nothing is wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-packet")
    tabs.get_by_role("tab", name=re.compile("Queue")).click()
    expect(page.locator("#queue-pane")).to_be_visible()
