"""The queues page and the timeline, driven in Chromium: counts that change live, the actions, the
dead-letter queue, and one message followed from its first delivery to its dead-lettering."""

from __future__ import annotations

from typing import Any

import pytest

# Without Playwright the module is skipped (conftest says why for Chromium).
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests: Playwright is not installed (pip install -e '.[browser]')"
).expect


def pending(page: Any) -> Any:
    return page.locator("[data-count='pending']")


def test_the_list_of_queues(inspector: Any) -> None:
    page = inspector.open("queues")
    jobs = page.locator("tr[data-queue='jobs']")
    expect(jobs).to_contain_text("shop")
    expect(jobs).to_contain_text("jobs-dlq")
    expect(page.locator("tr[data-queue='jobs-dlq']")).to_contain_text("dead-letter queue of jobs")


def test_send_pause_resume_and_purge(inspector: Any) -> None:
    page = inspector.open("queues/jobs")
    expect(pending(page)).to_have_text("0")
    page.get_by_role("button", name="Pause delivery").click()
    expect(page.get_by_role("button", name="Resume delivery")).to_be_visible()
    page.get_by_label("Message body").fill('{"job": "from the page"}')
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".toast.ok", has_text="Message sent")).to_be_visible()
    expect(pending(page)).to_have_text("1")  # live: no reload
    rows = page.locator("section", has_text="Messages").locator("tbody tr")
    expect(rows.first).to_contain_text('{"job": "from the page"}')
    inspector.screenshot("queue")
    page.get_by_role("button", name="Send").click()
    expect(pending(page)).to_have_text("2")
    page.get_by_role("button", name="Purge").click()
    expect(page.locator(".toast.ok", has_text="Purged 2 message(s)")).to_be_visible()
    expect(pending(page)).to_have_text("0")
    assert page.dialogs == ["Delete every message of jobs? This cannot be undone."]
    page.get_by_role("button", name="Resume delivery").click()
    expect(page.get_by_role("button", name="Pause delivery")).to_be_visible()


def test_a_failing_message_followed_to_the_dead_letter_queue_and_redriven(inspector: Any) -> None:
    shop = inspector.shop
    page = inspector.open("queues/jobs-dlq")
    shop.visit("/job?name=doomed&fail=1")
    expect(pending(page)).to_have_text("1")  # two failed attempts later, live
    row = page.locator("section", has_text="Messages").locator("tbody tr").first
    expect(row).to_contain_text('"doomed"')
    row.locator("a").first.click()
    follow = page.locator("section[data-follow]")
    steps = follow.locator("tbody tr")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_have_attribute("data-fate", "retried")
    expect(steps.nth(0)).to_contain_text("delivery from jobs")
    expect(steps.nth(0)).to_contain_text("job doomed failed")
    expect(steps.nth(1)).to_have_attribute("data-fate", "dead-lettered")
    expect(steps.nth(2)).to_contain_text("moved to jobs-dlq")
    expect(page.locator("[data-message-state]")).to_have_text("dead-lettered")
    inspector.screenshot("message")
    page = inspector.open("queues")
    expect(page.locator("tr[data-queue='jobs-dlq'] td").nth(2)).to_have_text("1")
    inspector.screenshot("queues")
    # Redrive it while jobs is paused, so that it waits there instead of failing again.
    page = inspector.open("queues/jobs")
    page.get_by_role("button", name="Pause delivery").click()
    expect(page.get_by_role("button", name="Resume delivery")).to_be_visible()
    page = inspector.open("queues/jobs-dlq")
    page.get_by_role("button", name="Redrive").click()
    expect(page.locator(".toast.ok", has_text="Moved 1 message(s) to jobs")).to_be_visible()
    expect(pending(page)).to_have_text("0")
    page = inspector.open("queues/jobs")
    expect(pending(page)).to_have_text("1")
    page.get_by_role("button", name="Purge").click()
    expect(pending(page)).to_have_text("0")
    page.get_by_role("button", name="Resume delivery").click()


def test_a_body_is_shown_as_text_never_as_markup(inspector: Any) -> None:
    page = inspector.open("queues/jobs")
    page.get_by_role("button", name="Pause delivery").click()
    page.get_by_label("Type").select_option("text")
    page.get_by_label("Message body").fill('<img src=x onerror="alert(document.cookie)">')
    page.get_by_role("button", name="Send").click()
    rows = page.locator("section", has_text="Messages").locator("tbody tr")
    expect(rows.first).to_contain_text('<img src=x onerror="alert(document.cookie)">')
    expect(page.locator("main img")).to_have_count(0)
    assert page.dialogs == []
    page.get_by_role("button", name="Purge").click()
    expect(pending(page)).to_have_text("0")
    page.get_by_role("button", name="Resume delivery").click()


def test_the_timeline_is_live_and_filters(inspector: Any) -> None:
    shop = inspector.shop
    page = inspector.open("timeline")
    shop.visit("/boom")
    failure = page.locator(".entry.level-error[data-kind='request']", has_text="GET /boom 500")
    expect(failure).to_have_count(1)  # arrived live
    shop.visit("/job?name=broken&fail=1")
    attempts = page.locator(".entry[data-kind='batch']", has_text="job broken failed")
    expect(attempts).to_have_count(2)  # both failed attempts, live; the newest on top
    batch = attempts.nth(1)
    batch.locator("summary").first.click()
    expect(batch.locator(".error-block summary")).to_contain_text("ValueError: job broken failed")
    batch.locator(".error-block summary").click()
    expect(batch.locator(".error-block pre")).to_contain_text('raise ValueError(f"job {message.body')
    inspector.screenshot("timeline")
    page.get_by_label("Kind").select_option("cron")
    expect(page.locator(".entry[data-kind='request']")).to_have_count(0)
    page.get_by_label("Kind").select_option("")
    page.get_by_label("Level").select_option("error")
    expect(page.locator(".entry.level-info")).to_have_count(0)
    expect(failure).to_have_count(1)
    page.get_by_label("Search").fill("no such title")
    expect(page.locator(".entry")).to_have_count(0)
