"""The workers, crons, Durable Objects and Workflows pages, driven in Chromium."""

from __future__ import annotations

from typing import Any

import pytest

# Without Playwright the module is skipped (conftest says why for Chromium).
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests: Playwright is not installed (pip install -e '.[browser]')"
).expect


def test_workers_page_lists_the_worker_and_its_bindings(inspector: Any) -> None:
    page = inspector.open("workers")
    card = page.locator("article[data-worker='shop']")
    expect(card.locator("h2")).to_contain_text("shop")
    expect(card.locator("h2")).to_contain_text("serves HTTP")
    rows = card.locator("tbody tr")
    expect(rows).to_have_count(6)
    expect(card).to_contain_text("KV Namespace")
    expect(card).to_contain_text("Durable Object")
    expect(card).to_contain_text("*/5 * * * *")
    inspector.screenshot("workers")
    card.get_by_role("link", name="env.CACHE").click()
    expect(page.locator("[data-view='kv']")).to_be_visible()


def test_crons_page_shows_the_next_five_times_and_runs_now(inspector: Any) -> None:
    page = inspector.open("crons")
    card = page.locator("article[data-cron='0 3 * * 1']")
    times = card.locator("ol.times li")
    expect(times).to_have_count(5)
    expect(times.first).to_contain_text("03:00:00 UTC")
    expect(card).to_contain_text("No run since workerlab dev started.")
    expect(page.locator("[data-view='crons']")).to_contain_text("--no-crons")
    card.get_by_role("button", name="Run now").click()
    expect(page.locator(".toast.ok", has_text='Ran "0 3 * * 1": ok')).to_be_visible()
    expect(card.locator("tbody tr")).to_have_count(1)
    expect(card.locator("tbody tr").first).to_contain_text("ok")
    inspector.screenshot("crons")


def test_durable_objects_pages_show_an_object_and_its_storage(inspector: Any) -> None:
    page = inspector.open("durable-objects")
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("Counter (of shop)")
    expect(row).to_contain_text("SQLite")
    row.get_by_role("link", name="env.COUNTER").click()
    objects = page.locator("tbody tr")
    expect(objects).to_have_count(1)
    expect(objects.first).to_contain_text("main")
    expect(objects.first).to_contain_text("2030-03-17 17:46:40 UTC")  # the alarm the worker set
    inspector.screenshot("durable-objects")
    objects.first.locator("a").first.click()
    expect(page.locator("[data-alarm]")).to_have_text("2030-03-17 17:46:40 UTC")
    expect(page.locator("section", has_text="Key-value storage").locator("tbody tr")).to_contain_text(
        "count1"
    )
    expect(page.locator("section", has_text="SQL tables").locator("tbody tr")).to_contain_text("hits")
    inspector.screenshot("durable-object")


def test_workflows_pages_show_steps_and_pause_resume_terminate(inspector: Any) -> None:
    page = inspector.open("workflows")
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("export")
    row.get_by_role("link", name="export").click()
    instance = page.locator("tbody tr").first
    expect(instance).to_contain_text("export-1")
    expect(instance).to_contain_text("waiting")
    instance.get_by_role("link", name="export-1").click()
    steps = page.locator("section", has_text="Steps").locator("tbody tr")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("collect orders")
    expect(steps.nth(1)).to_contain_text("waitForEvent")
    inspector.screenshot("workflow-instance")
    status = page.locator("[data-status]")
    page.get_by_role("button", name="Pause").click()
    expect(status).to_have_attribute("data-status", "paused")
    page.get_by_role("button", name="Resume").click()
    expect(status).to_have_attribute("data-status", "waiting")
    page.get_by_role("button", name="Terminate").click()
    expect(status).to_have_attribute("data-status", "terminated")
    page.get_by_role("button", name="Terminate").click()
    expect(page.locator(".toast.error")).to_be_visible()
