"""The KV, D1 and R2 pages, driven in Chromium: browsing, the read-only console, a download."""

from __future__ import annotations

from typing import Any

import pytest

# Without Playwright the module is skipped (conftest says why for Chromium).
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests: Playwright is not installed (pip install -e '.[browser]')"
).expect


def test_kv_keys_and_a_value(inspector: Any) -> None:
    page = inspector.open("kv")
    page.get_by_role("link", name="env.CACHE").click()
    keys = page.locator("section", has_text="Keys").locator("tbody tr")
    expect(keys).to_have_count(2)
    expect(keys.nth(0)).to_contain_text('{"lang":"en"}')
    page.get_by_role("link", name="greeting").click()
    expect(page.locator("pre[data-value]")).to_have_text("hello")
    inspector.screenshot("kv")
    page.get_by_label("Key prefix").fill("user:")
    page.get_by_role("button", name="Filter").click()
    expect(keys).to_have_count(1)
    expect(keys.first).to_contain_text("user:1")


def test_d1_tables_rows_and_the_read_only_console(inspector: Any) -> None:
    page = inspector.open("d1")
    page.get_by_role("link", name="env.DB").click()
    orders = page.locator("tbody tr", has_text="orders")
    expect(orders).to_contain_text("id INTEGER (key), item TEXT, quantity INTEGER")
    console = page.get_by_label("SQL")
    console.fill("SELECT item, quantity FROM orders")
    page.get_by_role("button", name="Run (read-only)").click()
    result = page.locator(".console-output")
    expect(result.locator("tbody tr")).to_have_count(1)
    expect(result.locator("tbody tr").first).to_contain_text("tea")
    inspector.screenshot("d1")
    console.fill("DELETE FROM orders")
    page.get_by_role("button", name="Run (read-only)").click()
    expect(result.get_by_role("alert")).to_contain_text("The SQL console only reads: DELETE is refused")
    orders.get_by_role("link", name="orders").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr").first).to_contain_text("tea")


def test_r2_folders_metadata_and_download(inspector: Any) -> None:
    page = inspector.open("r2")
    page.get_by_role("link", name="env.FILES").click()
    page.get_by_role("link", name="receipts/").click()
    page.get_by_role("link", name="1.txt").click()
    details = page.locator("section", has_text="Object").last
    expect(details).to_contain_text("text/plain")
    expect(details).to_contain_text("9 B")
    inspector.screenshot("r2")
    with page.expect_download() as started:
        details.get_by_role("link", name="Download").click()
    download = started.value
    assert download.suggested_filename == "1.txt"
    with open(download.path(), "rb") as body:
        assert body.read() == b"receipt 1"
