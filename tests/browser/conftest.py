"""The browser suite: the inspector driven in headless Chromium through Playwright's Python API.

It uses the system's Chromium (Debian's ``chromium`` package, or ``WORKERLAB_CHROMIUM``) and never
downloads a browser. Without Playwright or Chromium every test here is skipped, saying which is
missing. ``WORKERLAB_SCREENSHOTS=<folder>`` keeps a screenshot of each page there (the README's).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from devprocess import DevProcess
from test_inspector_support import SHOP_CONFIG

#: Flags Chromium needs here: headless, as root in a container, on a machine with no network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PLAYWRIGHT_MISSING = (
    "browser tests: Playwright's Python package is not installed (pip install -e '.[browser]')"
)
#: How long a page may take to show what a test waits for.
WAIT_MS = 10_000


def chromium_path() -> str | None:
    configured = os.environ.get("WORKERLAB_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def missing_browser() -> str | None:
    """Why the suite cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return PLAYWRIGHT_MISSING
    path = chromium_path()
    if path is None or not Path(path).is_file():
        where = f" at {path}" if path else ""
        return f"no Chromium found{where} (apt-get install chromium, or set WORKERLAB_CHROMIUM to its path)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing_browser()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=f"browser tests: {reason}"))


@dataclass
class Shop:
    """A `workerlab dev` of the test shop worker, and where its inspector is."""

    dev: DevProcess
    url: str
    inspector: str

    def visit(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10)

    def api(self, path: str) -> Any:
        return httpx.get(f"{self.inspector}api/{path}", timeout=10).json()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    folder = tmp_path_factory.mktemp("shop")
    args = ["-c", str(SHOP_CONFIG), "--persist-to", str(folder / "state"), "--no-reload", "--no-crons"]
    with DevProcess(args, cwd=folder) as dev:
        url = dev.wait_ready()
        inspector = dev.wait_for(r"Inspector on (http://\S+)").group(1)
        running = Shop(dev, url, inspector)
        assert running.visit("/seed").text == "seeded"
        yield running


# Module scope: while Playwright's sync API is open, its event loop runs in this thread, so it must
# be closed before the asyncio tests of other folders run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)

    profile = tempfile.mkdtemp(prefix="workerlab-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_path(),
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 860},
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any, shop: Shop) -> Iterator[Any]:
    """A fresh tab; a script error on the page fails the test."""
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    tab.dialogs = dialogs  # what alert()/confirm() said, for the tests that expect one
    yield tab
    tab.close()
    assert errors == [], f"script errors on the page: {errors}"


class Inspector:
    """The inspector in one tab: open a page of it, keep a picture of it."""

    def __init__(self, page: Any, shop: Shop) -> None:
        self.page = page
        self.shop = shop

    def open(self, route: str) -> Any:
        """Open ``#/route`` and wait until the page is live; return the tab."""
        self.page.goto(f"{self.shop.inspector}#/{route}")
        self.page.locator("#live[data-state='live']").wait_for()
        return self.page

    def screenshot(self, name: str) -> None:
        """Keep a picture of the page when WORKERLAB_SCREENSHOTS names a folder (the README's)."""
        folder = os.environ.get("WORKERLAB_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def inspector(page: Any, shop: Shop) -> Inspector:
    return Inspector(page, shop)
