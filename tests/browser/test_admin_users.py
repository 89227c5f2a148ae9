"""User management and the widget's look on the admin page: an admin adds an agent who then
logs in to the console; an admin brands the widget and the demo shop's page shows it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import AdminPages

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("browser")]

NEW_AGENT = ("dora", "Dora 張", "dora-new-agent-4")


def test_an_admin_adds_an_agent_who_then_logs_in_to_the_console(new_page, shot):
    page = new_page()
    admin = AdminPages(page).log_in()
    admin.tab("Users")
    expect(page.locator('#users tr[data-user="carol"]')).to_contain_text("管理員 Admin")
    username, display_name, password = NEW_AGENT
    page.get_by_label(re.compile("使用者名稱")).fill(username)
    page.get_by_label(re.compile("顯示名稱")).first.fill(display_name)
    page.get_by_label(re.compile("角色")).first.select_option("agent")
    page.get_by_label(re.compile("密碼（至少 10 字元）")).first.fill("short")
    page.locator("#user-add").click()
    # the browser's own check: a password under 10 characters is not sent
    expect(page.locator('#users tr[data-user="dora"]')).to_have_count(0)
    page.get_by_label(re.compile("密碼（至少 10 字元）")).first.fill(password)
    page.locator("#user-add").click()
    row = page.locator('#users tr[data-user="dora"]')
    expect(row).to_contain_text("啟用 Active")
    expect(page.locator("#users-notice")).to_contain_text("dora")
    shot(page, "added")

    again = page.get_by_label(re.compile("使用者名稱"))
    again.fill("dora")
    page.get_by_label(re.compile("密碼（至少 10 字元）")).first.fill(password)
    page.locator("#user-add").click()
    expect(page.locator("#users-error")).to_contain_text("這個使用者名稱已經有人使用")

    agent = new_page()
    agent.goto("/console")
    agent.get_by_label(re.compile("帳號")).fill(username)
    agent.get_by_label(re.compile("密碼")).fill(password)
    agent.get_by_role("button", name=re.compile("登入")).click()
    expect(agent.locator("#me")).to_contain_text(display_name)
    shot(agent, "agent-console")

    # deactivated: the open console loses its session, and a new log-in is refused
    row.get_by_role("button", name=re.compile("停用")).click()
    admin.confirm("停用")
    expect(row).to_contain_text("已停用 Deactivated")
    assert agent.request.get("/api/auth/me").status == 401


BROWN = "#7a4b1e"


def test_an_admin_brands_the_widget_and_the_demo_page_shows_it(new_page, shot):
    page = new_page()
    admin = AdminPages(page).log_in()
    before = page.request.get("/api/admin/widget").json()
    was_branded = page.request.get("/api/widget/config").json()["branded"]
    try:
        admin.tab("Widget")
        expect(page.locator("#brand-name-zh")).to_have_value(before["name"]["zh"])
        page.locator("#brand-name-zh").fill("木頭咖啡 <b>小舖</b>")
        page.locator("#brand-name-en").fill("Wood Coffee")
        page.locator("#brand-greeting-zh").fill("歡迎來到木頭咖啡！")
        page.locator("#brand-greeting-en").fill("Welcome to Wood Coffee!")
        page.locator("#brand-colour").fill(BROWN)
        page.locator("#brand-position").select_option("left")
        expect(page.locator("#preview-name")).to_have_text("木頭咖啡 <b>小舖</b>")
        expect(page.locator("#preview-head")).to_have_css("background-color", "rgb(122, 75, 30)")
        page.locator("#brand-logo").fill("javascript:alert(1)")
        page.locator("#brand-save").click()
        expect(page.locator("#brand-error")).not_to_be_empty()
        page.locator("#brand-logo").fill("")
        page.locator("#brand-save").click()
        expect(page.locator("#brand-notice")).to_contain_text("已儲存")
        shot(page, "branded")

        shop = new_page()
        shop.goto("/demo")
        launcher = shop.get_by_role("button", name=re.compile("開啟線上客服"))
        expect(launcher).to_have_css("background-color", "rgb(122, 75, 30)")
        box = launcher.bounding_box()
        assert box is not None and box["x"] < 200  # bottom left
        launcher.click()
        panel = shop.locator("#kefu-panel")
        expect(panel.locator("h2 small")).to_have_text("木頭咖啡 <b>小舖</b>")  # text, not markup
        expect(panel.locator("h2 small b")).to_have_count(0)
        expect(panel.locator("li.greeting")).to_have_text("歡迎來到木頭咖啡！")
        expect(panel.locator(".head")).to_have_css("background-color", "rgb(122, 75, 30)")
        shop.get_by_role("button", name="EN").click()
        expect(panel.locator("li.greeting")).to_have_text("Welcome to Wood Coffee!")
        expect(panel.locator("h2 small")).to_have_text("Wood Coffee")
        shot(shop, "demo-shop")
    finally:
        if was_branded:
            page.request.put("/api/admin/widget", data=before)
        else:
            page.request.delete("/api/admin/widget")


def test_the_demo_page_shows_the_shop_s_own_look_out_of_the_box(new_page, http):
    assert http.get("/api/widget/config").json()["branded"] is False
    shop = new_page()
    shop.goto("/demo")
    launcher = shop.get_by_role("button", name=re.compile("開啟線上客服"))
    expect(launcher).to_have_css("background-color", "rgb(122, 75, 30)")  # the shop's brown
    launcher.click()
    panel = shop.locator("#kefu-panel")
    expect(panel.locator("h2 small")).to_have_text("好日子生活選物")
    shop.get_by_role("button", name="EN").click()
    expect(panel.locator("h2 small")).to_have_text("Good Days Living")
