"""End-to-end: the dashboard in Debian's Chromium, driven by Playwright, against the real service.

The app runs under uvicorn in a background thread on a free loopback port, in demo mode (synthetic venue of a few
hundred accounts, simulated feed ticking fast) with a temporary SQLite store; an admin key is created in that store.
No browser is ever downloaded: the test uses ``/usr/bin/chromium`` (installed by ``.ci/run`` through apt).
Without it the test skips, except in CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
# CCM_E2E_STUB=1 drives the dashboard against the canned stand-in (stub_app.py) instead, for work on the page alone
REAL_APP = importlib.util.find_spec("ccm.service.app") is not None and not os.environ.get("CCM_E2E_STUB")


def _require_browser(chromium: Path = CHROMIUM) -> None:
    if chromium.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{chromium} is missing in CI: .ci/run installs Debian's chromium through apt")
    pytest.skip(f"{chromium} not installed (apt-get install chromium); never downloaded by the tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """uvicorn in a daemon thread; stops when ``stop`` is called."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


HOLDER_ACCOUNTS = ("acc-0000001", "acc-0000002")


def _real_app(tmp_path: Path) -> tuple[Any, str, str]:
    from ccm.service.app import create_app
    from ccm.service.settings import ServiceSettings
    from ccm.store import open_store

    url = f"sqlite:///{tmp_path / 'ccm.sqlite'}"
    with open_store(url) as store:
        _, secret = store.create_api_key("e2e", "admin")
        _, holder = store.create_api_key("e2e holder", "account", HOLDER_ACCOUNTS)
    settings = ServiceSettings(store=url, demo=True, demo_accounts=300, feed_interval=0.3, writer_interval=0.5,
                               rate_limit=0)
    return create_app(settings), secret, holder


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, str, str | None]]:
    """(base URL, admin key, account-holder key or None for the stand-in)."""
    holder: str | None = None
    if REAL_APP:
        app, key, holder = _real_app(tmp_path)
    else:  # only until ccm.service.app lands: the stand-in serves the same endpoints with canned data
        from .stub_app import create_stub_app

        key = "stub-admin-key"
        app = create_stub_app(key)
    server = _Server(app)
    server.start()
    try:
        yield server.url, key, holder
    finally:
        server.stop()


@pytest.fixture
def page(service: tuple[str, str, str | None]) -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors  # type: ignore[attr-defined]
        requests: list[str] = []
        page.on("request", lambda req: requests.append(req.url))
        page.requests = requests  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()
            browser.close()


def test_login_table_account_page_and_live_update(service: tuple[str, str, str | None], page: Any) -> None:
    from playwright.sync_api import expect

    base, key, _ = service
    page.set_default_timeout(20_000)
    page.goto(base + "/")

    # log in with the API key; a wrong key is refused first
    page.get_by_test_id("api-key").fill("not-a-key")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).not_to_be_empty()
    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("overview")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('ccm.apiKey')") == key

    # the accounts table has rows with a status cell, and the system gauges are filled in
    rows = page.get_by_test_id("account-row")
    expect(rows.first).to_be_visible()
    assert rows.count() > 0
    status = rows.first.get_by_test_id("cell-status").inner_text().strip()
    assert status.replace(" ", "_") in {"healthy", "warning", "margin_call", "liquidation", "bankrupt"}
    expect(page.get_by_test_id("system-coverage")).not_to_have_text("—")

    # sort by a header click and filter by status
    page.locator("th[data-sort='shortfall'] button").click()
    expect(page.locator("th[data-sort='shortfall']")).to_have_attribute("aria-sort", "descending")
    page.get_by_test_id("filter-status").select_option(status.replace(" ", "_"))
    expect(rows.first.get_by_test_id("cell-status")).to_have_text(status)
    with page.expect_response(lambda r: "/api/v1/accounts?" in r.url and "status=" not in r.url):
        page.get_by_test_id("filter-status").select_option("")

    # open an account: its page with metrics, the coverage chart area and the margin contributors
    account = rows.first.get_attribute("data-account")
    page.locator(f"tr[data-account='{account}']").click()
    expect(page.get_by_test_id("account-page")).to_be_visible()
    expect(page.get_by_test_id("account-id")).to_have_text(account)
    expect(page.get_by_test_id("account-metrics")).to_contain_text("Maintenance margin")
    expect(page.get_by_test_id("history-chart").locator("svg, [data-testid='history-empty']").first).to_be_visible()

    # a live update arrives over the WebSocket: the system gauge's timestamp changes
    expect(page.get_by_test_id("ws-state")).to_have_text("live", timeout=15_000)
    # (first a pushed system message, then another one with a later timestamp)
    updated = page.get_by_test_id("system-updated")
    expect(updated).to_have_attribute("data-source", "ws", timeout=15_000)
    before = updated.get_attribute("data-at")
    page.wait_for_function(
        "b => document.querySelector('[data-testid=system-updated]').dataset.at !== b", arg=before, timeout=15_000)
    assert updated.get_attribute("data-source") == "ws"
    assert updated.get_attribute("data-at") > before  # ISO timestamps of the same zone sort as text

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "account.png"), full_page=True)

    # back to the table; the stress panel answers with scenarios
    page.get_by_test_id("back").click()
    expect(page.get_by_test_id("overview")).to_be_visible()
    expect(rows.first).to_be_visible()
    page.get_by_test_id("run-stress").click()
    expect(page.get_by_test_id("stress-row").first).to_be_visible(timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    assert page.errors == [], page.errors  # type: ignore[attr-defined]
    local = (base, base.replace("http", "ws", 1))
    foreign = [u for u in page.requests if not u.startswith(local)]  # type: ignore[attr-defined]
    assert foreign == [], f"the dashboard must work offline, it fetched {foreign}"


def test_account_key_sees_only_its_accounts_and_no_system_view(service: tuple[str, str, str | None],
                                                               page: Any) -> None:
    from playwright.sync_api import expect

    base, _, holder = service
    if holder is None:
        pytest.skip("roles need the real service (the stand-in has one key)")
    page.set_default_timeout(20_000)
    page.goto(base + "/")
    page.get_by_test_id("api-key").fill(holder)
    page.get_by_test_id("login-submit").click()
    rows = page.get_by_test_id("account-row")
    expect(rows.first).to_be_visible()
    expect(page.get_by_test_id("gauges")).to_be_hidden()  # the system view is not for account keys
    shown = {rows.nth(i).get_attribute("data-account") for i in range(rows.count())}
    assert shown and shown <= set(HOLDER_ACCOUNTS), shown
    rows.first.click()
    expect(page.get_by_test_id("account-page")).to_be_visible()
    expect(page.get_by_test_id("account-metrics")).to_contain_text("Maintenance margin")
    page.get_by_test_id("run-stress").click()
    expect(page.get_by_test_id("stress-state")).to_have_text("this key may not run stress tests")
    expect(page.get_by_test_id("account-page")).to_be_visible()  # not logged out by the refusal
    assert page.evaluate("sessionStorage.getItem('ccm.apiKey')") == holder  # still signed in
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


def test_missing_browser_skips_locally_and_fails_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = tmp_path / "no-chromium"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        _require_browser(absent)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing in CI"):
        _require_browser(absent)
