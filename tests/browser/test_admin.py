"""The admin pages: a changed knowledge file dropped on the page is ingested and answered from;
an unanswered question becomes a draft, then an answer; the dashboard draws its charts and
opens the conversations behind a number; bad files, empty drafts and agents get clear
messages."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.conftest import TURN_TIMEOUT_MS, AdminPages, Widget, handed_off_by_api
from tests.conftest import DEMO_FILES

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

# Questions no other browser test asks, so the knowledge changed here changes nothing there.
REPAIR_QUESTION = "維修需要多久？"
REPAIR_ANSWER = "自 2026 年 12 月起，商品送達維修中心後約 3 個工作天就會修復寄回。"
GIFT_QUESTION = "你們有提供禮品包裝服務嗎？"
GIFT_ANSWER = "有的，結帳時勾選「禮品包裝」即可，每件加收 NT$30，並附上手寫卡片。"
INGEST_TIMEOUT_MS = 60_000
# The server's words or the page's own: either says what is wrong and what to upload instead.
UNSUPPORTED_ZH = re.compile("(不支援|無法讀取)[^。]*檔案.*(Excel|xlsx)")
UNSUPPORTED_EN = re.compile("(not supported|can't read).*(Excel|xlsx)", re.I)
CHARTS = ("daily", "resolution", "triggers", "topics")


def faq_with_a_changed_answer() -> bytes:
    """The demo's shop_faq.xlsx with one answer rewritten."""
    book = load_workbook(DEMO_FILES / "shop_faq.xlsx")
    changed = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            if row[0].value == REPAIR_QUESTION:
                row[1].value = REPAIR_ANSWER
                changed += 1
    assert changed == 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def drop_file(page: Page, target: str, name: str, content: bytes, mime: str) -> None:
    """A real drop event on `target`, carrying one file, as a browser sends it."""
    page.locator(target).evaluate(
        """(zone, [name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            for (const kind of ["dragenter", "dragover", "drop"]) {
                const init = { dataTransfer: dt, bubbles: true, cancelable: true };
                zone.dispatchEvent(new DragEvent(kind, init));
            }
        }""",
        [name, base64.b64encode(content).decode(), mime],
    )


def ask_in_widget(page: Page, question: str):
    """Asks on the demo shop page; returns the bot's bubble."""
    widget = Widget(page).open()
    widget.ask(question)
    bubble = widget.log.locator(".msg.bot")
    expect(bubble).to_have_count(1, timeout=TURN_TIMEOUT_MS)
    return bubble


def test_a_changed_xlsx_dropped_on_the_page_is_ingested_and_answered_from(new_page, shot):
    page = new_page()
    admin = AdminPages(page).log_in()
    sources = page.locator("#sources tbody")
    expect(sources.locator('tr[data-source="shop_faq.xlsx"]')).to_be_visible()
    shot(page, "knowledge")

    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    drop_file(page, "#dropzone", "shop_faq.xlsx", faq_with_a_changed_answer(), xlsx)
    # The name is taken: the page asks before replacing the source.
    expect(page.locator("#confirm-text")).to_contain_text("shop_faq.xlsx")
    expect(page.locator("#confirm-text")).to_contain_text("Replace it")
    shot(page, "replace-asked")
    admin.confirm("Replace")

    expect(admin.job).to_have_attribute("data-state", "done", timeout=INGEST_TIMEOUT_MS)
    row = admin.job.locator('tr[data-source="shop_faq.xlsx"]')
    expect(row).to_have_attribute("data-outcome", "changed")
    expect(row.locator('[data-col="changed"]')).to_have_text("1")
    expect(admin.job.locator(".totals")).to_contain_text("changed 1")
    expect(admin.job.locator(".totals")).to_contain_text("added 0")
    expect(admin.job.locator("progress")).to_have_attribute("max", "1")
    expect(page.locator("#upload-notice")).to_contain_text("Ingest finished")
    expect(sources.locator('tr[data-source="shop_faq.xlsx"]')).to_contain_text("ok")
    shot(page, "changed-1")

    customer = new_page()
    answer = ask_in_widget(customer, REPAIR_QUESTION)
    expect(answer).to_have_class(re.compile("answered"))
    expect(answer).to_contain_text("3 個工作天")
    shot(customer, "widget-answers-the-new-answer")


def test_an_unanswered_question_becomes_a_draft_then_the_answer(new_page, shot):
    customer = new_page()
    refusal = ask_in_widget(customer, GIFT_QUESTION)
    expect(refusal).to_have_class(re.compile("refused"))
    shot(customer, "refused")

    page = new_page()
    admin = AdminPages(page).log_in()
    admin.tab("Unanswered")
    group = page.locator("#gaps article.gap").filter(has_text=GIFT_QUESTION)
    expect(group).to_have_count(1, timeout=TURN_TIMEOUT_MS)  # the first grouping loads e5
    expect(group.locator(".examples")).to_contain_text(GIFT_QUESTION)
    expect(group.locator("canvas")).to_have_count(1)  # its weekly trend
    export = page.locator("#gaps-export").get_attribute("href") or ""
    assert re.search(r"/api/admin/gaps\.xlsx\?from=\d{4}-\d\d-\d\d&to=", export)
    shot(page, "unanswered-groups")

    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.split("?")[0].endswith("/draft")
    ) as made:
        group.get_by_role("button", name=re.compile("Make a knowledge draft")).click()
    assert made.value.status == 201
    draft_id = made.value.json()["id"]
    card = page.locator(f'#drafts article[data-draft-id="{draft_id}"]')
    expect(card).to_be_visible()
    drafts_tab = page.get_by_role("tab", name=re.compile("Drafts"))
    expect(drafts_tab).to_have_attribute("aria-selected", "true")
    answer = card.get_by_role("textbox", name=re.compile("Answer"))
    expect(answer).to_be_focused()
    shot(page, "draft-made")

    # The group's label may be another wording of the question: the admin words it as asked.
    card.get_by_role("textbox", name=re.compile("Question")).fill(GIFT_QUESTION)
    answer.fill(GIFT_ANSWER)
    card.get_by_role("button", name=re.compile("Approve")).click()
    expect(card).to_have_attribute("data-status", "approved")
    job = card.locator(".job")
    expect(job).to_have_attribute("data-state", "done", timeout=INGEST_TIMEOUT_MS)
    expect(job.locator('tr[data-source="knowledge_drafts.xlsx"]')).to_be_visible()
    expect(card.locator(".notice")).to_contain_text("the bot answers with it")
    expect(card.get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
    shot(page, "approved-and-ingested")

    later = new_page()
    answered = ask_in_widget(later, GIFT_QUESTION)
    expect(answered).to_have_class(re.compile("answered"))
    expect(answered).to_contain_text("禮品包裝")
    expect(answered).to_contain_text("NT$30")
    shot(later, "widget-answers-from-the-draft")


def test_the_dashboard_draws_its_charts_and_opens_the_conversations_behind_a_number(
    new_page, shot, http: httpx.Client
):
    answered = http.post("/api/conversations", json={"channel": "web"}).json()["id"]
    turn = http.post(f"/api/conversations/{answered}/messages", json={"text": "運費怎麼算？"})
    assert turn.json()["status"] == "answered"
    events = http.get(f"/api/conversations/{answered}").json()["events"]
    seq = next(e["seq"] for e in events if e["kind"] == "turn_answered")
    helpful = http.post(
        f"/api/conversations/{answered}/feedback", json={"helpful": True, "turn_seq": seq}
    )
    assert helpful.is_success, helpful.text
    refused = http.post("/api/conversations", json={"channel": "web"}).json()["id"]
    http.post(f"/api/conversations/{refused}/messages", json={"text": "可以幫我在杯子上刻字嗎？"})
    handed_off = handed_off_by_api(http)

    page = new_page()
    admin = AdminPages(page).log_in()
    # The tabs follow the keyboard (arrow keys move along them).
    page.get_by_role("tab", name=re.compile("Knowledge")).focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name=re.compile("Drafts"))).to_be_focused()
    page.keyboard.press("ArrowRight")
    dashboard = page.get_by_role("tab", name=re.compile("Dashboard"))
    expect(dashboard).to_be_focused()
    expect(dashboard).to_have_attribute("aria-selected", "true")
    expect(page.locator("#dash-body")).to_have_attribute("data-loaded", re.compile(r"^\d{4}-"))

    engaged = page.locator('.metric[data-key="engaged_conversations"] button.value')
    assert int(re.sub(r"\D.*", "", engaged.inner_text())) >= 3
    for key in ("deflection_rate", "resolution_confirmed_rate", "refusal_rate", "handoff_rate"):
        card = page.locator(f'.metric[data-key="{key}"]')
        expect(card.locator("button.value")).to_have_text(re.compile(r"^\d+\.\d%"))
        expect(card.locator(".def")).not_to_be_empty()  # its definition beside it
    for name in CHARTS:
        canvas = page.locator(f'canvas[data-chart-canvas="{name}"]')
        expect(canvas).to_have_count(1)
        drawn = canvas.evaluate(
            """c => { const chart = Chart.getChart(c);
                      if (!chart) return null;
                      return chart.data.datasets[0].data.reduce((a, b) => a + b, 0); }"""
        )
        assert drawn, f"the {name} chart has no Chart.js instance or no data"
    page.locator("#chart-daily-title").scroll_into_view_if_needed()
    shot(page, "dashboard")
    page.locator("#chart-triggers-title").scroll_into_view_if_needed()
    shot(page, "dashboard-charts")

    page.locator('.metric[data-key="handoff_rate"] button.value').click()
    drill = page.locator("#drill")
    expect(drill).to_be_visible()
    row = drill.locator(f'tr[data-conversation-id="{handed_off}"]')
    expect(row).to_be_visible()
    shot(page, "conversations-behind-the-handoff-rate")
    row.get_by_role("button", name=re.compile("View")).click()
    dialog = page.locator("#transcript-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".transcript .customer").first).to_contain_text("真人客服")
    handoff = dialog.locator('[data-kind="turn_handed_off"], [data-kind="status_changed"]')
    expect(handoff.first).to_be_visible()
    shot(page, "transcript")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    csv_href = page.locator("#export-csv").get_attribute("href") or ""
    assert re.search(r"metrics\.csv\?from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d", csv_href)
    exported = page.request.get(csv_href)
    assert exported.ok and "engaged_conversations" in exported.text()
    xlsx = page.request.get(page.locator("#export-xlsx").get_attribute("href") or "")
    assert xlsx.ok and xlsx.body()[:2] == b"PK"

    # A period with no conversations says so instead of drawing empty charts.
    period = page.locator("#panel-dashboard")
    period.get_by_label(re.compile("開始日")).fill("2001-01-01")
    period.get_by_label(re.compile("結束日")).fill("2001-01-31")
    admin.button("Apply").click()
    expect(page.locator("#dash-body")).to_have_attribute("data-loaded", re.compile("^2001-01-01"))
    expect(page.locator(".chart-box .no-data")).to_have_count(len(CHARTS))
    expect(page.locator(".chart-box canvas")).to_have_count(0)
    expect(page.locator("#dash-state")).to_contain_text("No data for this period")
    shot(page, "no-data")


def test_the_default_period_ends_on_the_shops_today_not_the_browsers(new_page):
    # 17:30 UTC on 3 December is 01:30 on 4 December in Taipei, the shop's time zone: a
    # browser in UTC must still count the shop's days, as the reports do.
    page = new_page()
    page.clock.set_fixed_time("2026-12-03T17:30:00Z")
    AdminPages(page).log_in()
    page.get_by_role("tab", name=re.compile("Dashboard")).click()
    expect(page.locator("#dash-to")).to_have_value("2026-12-04")
    expect(page.locator("#dash-from")).to_have_value("2026-11-05")  # 30 days with today


def test_bad_files_an_empty_draft_and_an_agent_get_clear_messages(new_page, shot, tmp_path: Path):
    page = new_page()
    admin = AdminPages(page).log_in()
    upload = page.get_by_label(re.compile("選擇檔案"))
    upload.set_input_files(
        {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00"}
    )
    expect(admin.upload_error).to_contain_text("setup.exe")
    expect(admin.upload_error).to_contain_text(UNSUPPORTED_ZH)
    expect(admin.upload_error).to_contain_text(UNSUPPORTED_EN)
    shot(page, "unsupported-exe")

    upload.set_input_files(
        {
            "name": "報價單.docx",
            "mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "buffer": b"PK\x03\x04 not really a document",
        }
    )
    expect(admin.upload_error).to_contain_text("報價單.docx")
    expect(admin.upload_error).to_contain_text(UNSUPPORTED_ZH)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    upload.set_input_files(empty)
    expect(admin.upload_error).to_contain_text("empty.txt")
    expect(admin.upload_error).to_contain_text(re.compile("空的|沒有內容"))
    expect(admin.upload_error).to_contain_text(re.compile("empty", re.I))
    expect(admin.upload_error).not_to_contain_text("報價單.docx")  # a new upload, a new message
    shot(page, "empty-file")

    admin.tab("Drafts")
    page.get_by_text(re.compile("新增草稿")).click()
    # Markup in a draft is text on the page, never an element.
    question = "可以用禮券折抵運費嗎？<img src=x onerror=alert(1)>"
    page.locator("#new-draft-form").get_by_label(re.compile("問題")).fill(question)
    admin.button("Create draft").click()
    card = page.locator("#drafts article.draft").filter(has_text="可以用禮券折抵運費嗎")
    expect(card).to_have_count(1)
    expect(card.locator("h3")).to_contain_text("<img src=x")
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    card.get_by_role("button", name=re.compile("Approve")).click()
    alert = card.get_by_role("alert")
    expect(alert).to_contain_text(re.compile("答案.*核准"))
    expect(alert).to_contain_text(re.compile("answer.*before approving", re.I))
    expect(card).to_have_attribute("data-status", "pending")
    expect(card.get_by_role("button", name=re.compile("Approve"))).to_be_enabled()
    shot(page, "empty-draft-refused")

    card.get_by_role("button", name=re.compile("Reject")).click()
    admin.confirm("Reject")
    expect(card).to_have_attribute("data-status", "rejected")
    shot(page, "draft-rejected")

    agent_page = new_page()
    AdminPages(agent_page).log_in("alice")
    forbidden = agent_page.locator("#forbidden-view")
    expect(forbidden).to_be_visible()
    expect(agent_page.locator("#admin")).to_be_hidden()
    expect(agent_page.locator("#forbidden-message")).to_contain_text("is not an admin")
    expect(agent_page.locator("#forbidden-message")).to_contain_text("Your account may not do this")
    console_link = forbidden.get_by_role("link", name=re.compile("agent console"))
    expect(console_link).to_have_attribute("href", "/console")
    shot(agent_page, "agent-forbidden")


def test_a_running_ingest_is_cancelled_from_the_page(new_page, shot):
    """A long upload shows its cancel button; once cancelled, the file is not a source and
    the page says the knowledge that was serving keeps serving."""
    page = new_page()
    admin = AdminPages(page).log_in()
    rows = "\n".join(
        f"第{i}號商品的保固多久？,第{i}號商品保固 {i % 5 + 1} 年。" for i in range(4000)
    )
    drop_file(page, "#dropzone", "long_catalogue.csv", f"問題,答案\n{rows}\n".encode(), "text/csv")
    expect(admin.job).to_have_attribute("data-state", "running", timeout=INGEST_TIMEOUT_MS)
    cancel = admin.job.get_by_role("button", name=re.compile("取消匯入 Cancel ingest"))
    expect(cancel).to_be_visible()
    shot(page, "running-with-a-cancel-button")
    cancel.click()
    expect(admin.job).to_have_attribute("data-state", "cancelled", timeout=INGEST_TIMEOUT_MS)
    expect(admin.job).to_contain_text("已取消")
    expect(page.locator("#upload-notice")).to_contain_text("Ingest cancelled")
    shot(page, "cancelled")
    page.locator("#sources-refresh").click()
    expect(page.locator('#sources tr[data-source="shop_faq.xlsx"]')).to_be_visible()
    expect(page.locator('#sources tr[data-source="long_catalogue.csv"]')).to_have_count(0)
