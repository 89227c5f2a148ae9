"""Browser fixtures: one real `kefu serve` on the demo shop with two agents' and an admin's
accounts, and a headless Chromium (Playwright) whose pages take a numbered screenshot at every
step."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import KEFU, QUEUE_ALWAYS, REPO, ingested_demo_copy, kefu_server
from tests.customer_tokens import as_customer

# Debian's Chromium: the browser tests run air-gapped, so Playwright never downloads one.
CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
# username: (display name, password)
AGENTS = {
    "alice": ("Alice 王", "alice-correct-horse-1"),
    "bob": ("Bob 林", "bob-battery-staple-2"),
}
ADMINS = {
    "carol": ("Carol 陳", "carol-admin-staple-3"),
}
# A bot turn on a cold server (first query loads the encoders) can take several seconds.
TURN_TIMEOUT_MS = 30_000

expect.set_options(timeout=15_000)
PRIVACY_URL = "https://shop.example.tw/privacy"  # the shop's privacy notice, in settings


def add_staff(data: Path) -> None:
    """The agents' (AGENTS) and the admins' (ADMINS) accounts, added by `kefu user add` to the
    data directory."""
    accounts = [(name, "agent", *account) for name, account in AGENTS.items()]
    accounts += [(name, "admin", *account) for name, account in ADMINS.items()]
    for username, role, display_name, password in accounts:
        added = subprocess.run(
            [
                *KEFU,
                "user",
                "add",
                username,
                "--role",
                role,
                "--display-name",
                display_name,
                "--password-stdin",
                "--data-dir",
                str(data),
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            timeout=120,
        )
        assert added.returncode == 0, added.stdout + added.stderr


@contextmanager
def pages_on(browser: Browser, base_url: str) -> Iterator[Callable[[], Page]]:
    """Pages of their own on `base_url` (a context each: own cookies, own localStorage),
    closed at the end. A script error on any of them fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make() -> Page:
        context = browser.new_context(
            base_url=base_url, locale="zh-TW", viewport={"width": 1280, "height": 800}
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture(scope="session")
def browser_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ingested demo shop (built once per run, shared with the integration tests) with
    the agents' and the admin's accounts added by `kefu user add`."""
    data = ingested_demo_copy(tmp_path_factory, "browser")
    add_staff(data)
    return data


@pytest.fixture(scope="session")
def server(browser_data: Path) -> Iterator[str]:
    with kefu_server(
        browser_data, settings={"KEFU_NOTICE__PRIVACY_URL": PRIVACY_URL, **QUEUE_ALWAYS}
    ) as url:
        yield url


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with as_customer(httpx.Client(base_url=server, timeout=60)) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an asyncio loop running in this thread while
    # it is open, and any other test here that calls asyncio.run() would fail on it.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser, server: str) -> Iterator[Callable[[], Page]]:
    """Pages of their own on the shared server (`pages_on`)."""
    with pages_on(browser, server) as make:
        yield make


class Screenshots:
    """`shot(page, "step")` saves test-artifacts/browser/<test>/<NN-step>.png."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.count = 0

    def __call__(self, page: Page, step: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{step}.png"))


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name))


# ---- the pages, as a customer and an agent use them -------------------------------------------


class Widget:
    """The customer widget on the demo shop page (inside its shadow root: Playwright's
    locators pierce open shadow roots)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.panel = page.locator("#kefu-panel")
        self.log = page.locator("#kefu-panel .log")
        self.status = page.locator("#kefu-panel .status")
        self.typing = page.locator("#kefu-panel .typing")
        self.input = page.get_by_role("textbox", name="輸入訊息")

    def open(self) -> Widget:
        self.page.goto("/demo")
        self.page.get_by_role("button", name=re.compile("開啟線上客服")).click()
        expect(self.panel).to_be_visible()
        expect(self.input).to_be_focused()
        return self

    def ask(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def messages(self, kind: str) -> list[str]:
        """The texts of the customer's (kind "customer"), bot's or agent's bubbles."""
        return self.log.locator(f".msg.{kind} .text").all_text_contents()

    def seqs(self) -> list[str]:
        return [
            s
            for s in self.log.locator("[data-seq]").evaluate_all(
                "items => items.map(i => i.getAttribute('data-seq'))"
            )
            if s
        ]

    @property
    def conversation_id(self) -> str:
        found = self.page.evaluate("window.kefuWidget.conversationId")
        assert isinstance(found, str), "the widget has no conversation yet"
        return found

    @property
    def opened(self) -> dict[str, str]:
        """The Authorization header of the widget's conversation, with the customer token the
        widget keeps in localStorage."""
        token = self.page.evaluate(
            """() => {
              const key = Object.keys(localStorage).find(k => k.startsWith("kefu:conversation:"));
              return key ? JSON.parse(localStorage.getItem(key)).token : null;
            }"""
        )
        assert isinstance(token, str), "the widget keeps no customer token"
        return {"Authorization": f"Bearer {token}"}


class Console:
    """The agents' console."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.transcript = page.locator("#transcript")
        self.error = page.locator("#action-error")
        self.status = page.locator("#conv-status")
        self.reply_box = page.get_by_role("textbox", name=re.compile("回覆客戶"))

    def log_in(self, username: str) -> Console:
        display_name, password = AGENTS[username]
        self.page.goto("/console")
        self.page.get_by_label(re.compile("帳號")).fill(username)
        self.page.get_by_label(re.compile("密碼")).fill(password)
        self.page.get_by_role("button", name=re.compile("登入")).click()
        expect(self.page.locator("#me")).to_contain_text(display_name)
        return self

    def entry(self, conversation_id: str):
        return self.page.locator(f'#queue button[data-conversation-id="{conversation_id}"]')

    def open(self, conversation_id: str) -> None:
        self.entry(conversation_id).click()
        expect(self.page.locator("#conversation")).to_have_attribute(
            "data-conversation-id", conversation_id
        )
        expect(self.page.locator("#packet")).to_be_visible()

    def button(self, name: str):
        return self.page.get_by_role("button", name=re.compile(name))

    def reply(self, text: str) -> None:
        self.reply_box.fill(text)
        self.reply_box.press("Enter")


class AdminPages:
    """The admin pages (/admin): knowledge, drafts, dashboard, unanswered questions."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.job = page.locator("#knowledge-job")
        self.upload_error = page.locator("#upload-error")

    def log_in(self, username: str = "carol") -> AdminPages:
        """Logs in on /admin; an agent lands on the page that says admins only."""
        display_name, password = {**AGENTS, **ADMINS}[username]
        self.page.goto("/admin")
        form = self.page.locator("#login-view")
        form.get_by_label(re.compile("帳號")).fill(username)
        form.get_by_label(re.compile("密碼")).fill(password)
        self.page.get_by_role("button", name=re.compile("登入")).click()
        expect(self.page.locator("#me")).to_contain_text(display_name)
        if username in ADMINS:
            expect(self.page.locator("#admin")).to_be_visible()
        return self

    def tab(self, name: str) -> None:
        """Opens a section by its tab (name: a part of its label, e.g. "Drafts")."""
        tab = self.page.get_by_role("tab", name=re.compile(name))
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")
        expect(self.page.locator(f"#{tab.get_attribute('aria-controls')}")).to_be_visible()

    def button(self, name: str):
        return self.page.get_by_role("button", name=re.compile(name))

    def confirm(self, name: str) -> None:
        """Answers the page's confirmation dialog with its button `name`."""
        dialog = self.page.locator("#confirm-dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name=re.compile(name)).click()
        expect(dialog).to_be_hidden()


def handed_off_by_api(http: httpx.Client, text: str = "請幫我轉接真人客服") -> str:
    """A conversation waiting in the queue, made over the customer API (faster than a page)."""
    conversation_id = http.post("/api/conversations", json={"channel": "web"}).json()["id"]
    http.post(f"/api/conversations/{conversation_id}/messages", json={"text": text})
    status = http.get(f"/api/conversations/{conversation_id}").json()["conversation"]["status"]
    if status != "waiting":
        assert http.post(f"/api/conversations/{conversation_id}/handoff").status_code == 200
    return conversation_id
