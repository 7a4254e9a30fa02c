"""Job types that call out over HTTP with ``workers.fetch``: send-email, webhook-delivery, crawl-website.

``send-email`` posts to the provider set in ``[vars]``; ``webhook-delivery`` calls the URL its
payload names (or, given an ``event``, the receiver in ``[vars]``); ``crawl-website`` follows the
links of one site and records each page it saw in D1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from jobs_base import InvalidPayload, JobFailed, JobRun, text, whole
from workers import fetch

#: Longest email subject we accept.
MAX_SUBJECT_CHARS = 200
#: Statuses after which another attempt may succeed (the other side is busy or down).
RETRYABLE_STATUSES = frozenset({408, 425, 429})
#: How much of an error response to keep in the job's error.
ERROR_DETAIL_CHARS = 200
#: Methods a webhook may use.
WEBHOOK_METHODS = ("POST", "PUT", "PATCH", "DELETE", "GET")
#: Pages one crawl may visit (and its default).
MAX_CRAWL_PAGES = 100
DEFAULT_CRAWL_PAGES = 10
#: Pages of a crawl listed in the job's result.
CRAWL_RESULT_PAGES = 20

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HREF = re.compile(r"""<a\s[^>]*href\s*=\s*["']([^"'#]+)""", re.IGNORECASE)


# --- payloads ------------------------------------------------------------------------------


def validate_email(payload: dict[str, Any]) -> None:
    """``{to, subject, body}``; ``text`` and ``html`` may stand for (or join) ``body``."""
    to = text(payload, "to")
    if not _EMAIL.match(to or ""):
        raise InvalidPayload(f"payload.to must be an email address, found {json.dumps(to)}")
    text(payload, "subject", max_chars=MAX_SUBJECT_CHARS)
    parts = [text(payload, key, required=False) for key in ("body", "text", "html")]
    if not any(parts):
        raise InvalidPayload("payload needs the message: payload.body (or payload.text / payload.html)")


def _http_url(payload: dict[str, Any], key: str) -> str:
    url = text(payload, key) or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidPayload(f"payload.{key} must be an http(s) URL, found {json.dumps(url)}")
    return url


def validate_webhook(payload: dict[str, Any]) -> None:
    """``{url, method, body}``; or ``{event, data}`` for the receiver configured in ``[vars]``."""
    if "url" in payload:
        _http_url(payload, "url")
        method = payload.get("method", "POST")
        if method not in WEBHOOK_METHODS:
            raise InvalidPayload(
                f"payload.method must be one of {', '.join(WEBHOOK_METHODS)}, found {json.dumps(method)}"
            )
        return
    event = text(payload, "event")
    if not _EVENT_NAME.match(event or ""):
        raise InvalidPayload(
            "payload needs a url (or an event for the configured receiver); payload.event must be a name "
            f"like order.created (1-100 of A-Z a-z 0-9 _ . : -), found {json.dumps(event)}"
        )
    if not isinstance(payload.get("data"), dict):
        raise InvalidPayload(f"payload.data must be a JSON object, found {json.dumps(payload.get('data'))}")


def validate_crawl(payload: dict[str, Any]) -> None:
    """``{url, maxPages}``."""
    _http_url(payload, "url")
    whole(payload, "maxPages", DEFAULT_CRAWL_PAGES, 1, MAX_CRAWL_PAGES)


# --- calls ---------------------------------------------------------------------------------


async def _call(method: str, url: str, body: str | None, headers: dict[str, str], what: str) -> Any:
    """One request; a refusal is a failed attempt, retryable when the other side is busy or down."""
    try:
        response = await fetch(url, method=method, headers=headers, body=body)
    except Exception as error:
        raise JobFailed(f"{what}: could not reach {url}: {error}") from error
    if response.ok:
        return response
    detail = (await response.text())[:ERROR_DETAIL_CHARS]
    retryable = response.status in RETRYABLE_STATUSES or response.status >= 500
    raise JobFailed(f"{what}: {url} answered {response.status}: {detail}", retryable=retryable)


async def send_email(job: JobRun) -> dict[str, Any]:
    payload, env = job.payload, job.env
    message = {"from": env.EMAIL_FROM, "to": payload["to"], "subject": payload["subject"]}
    plain = payload.get("body") or payload.get("text")
    if plain:
        message["text"] = plain
    if payload.get("html"):
        message["html"] = payload["html"]
    # The same key on every attempt of one run: the provider sends the email once even if we
    # retry after it accepted the message but before we recorded that.
    headers = {"content-type": "application/json", "idempotency-key": f"{job.id}-{job.run}"}
    api_key = getattr(env, "EMAIL_API_KEY", None)
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    response = await _call("POST", env.EMAIL_API_URL, json.dumps(message), headers, "send-email")
    try:
        receipt = await response.json()
    except ValueError:
        receipt = {}
    provider_id = receipt.get("id") if isinstance(receipt, dict) else None
    return {"sent": True, "to": payload["to"], "providerMessageId": provider_id}


async def deliver_webhook(job: JobRun) -> dict[str, Any]:
    payload, env = job.payload, job.env
    if "url" in payload:
        url, method = payload["url"], payload.get("method", "POST")
        content = payload.get("body")
        headers = {"x-webhook-id": job.id}
    else:  # an event for the receiver configured in [vars]
        url, method = env.WEBHOOK_URL, "POST"
        content = {"id": job.id, "event": payload["event"], "data": payload["data"]}
        headers = {"x-webhook-event": payload["event"], "x-webhook-id": job.id}
    body = None
    if content is not None and method != "GET":
        # Receivers deduplicate on X-Webhook-Id: a delivery may arrive more than once.
        body = content if isinstance(content, str) else json.dumps(content, separators=(",", ":"))
        headers["content-type"] = "application/json" if not isinstance(content, str) else "text/plain"
        secret = getattr(env, "WEBHOOK_SECRET", None)
        if secret:
            digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
            headers["x-webhook-signature"] = f"sha256={digest}"
    response = await _call(method, url, body, headers, "webhook-delivery")
    return {"deliveredTo": url, "method": method, "status": response.status}


def _page_url(url: str) -> str:
    """``url`` without its fragment, and with ``/`` for an empty path: one page, one spelling."""
    page, _ = urldefrag(url)
    return page + "/" if urlsplit(page).path == "" else page


async def crawl_website(job: JobRun) -> dict[str, Any]:
    """Visit the start page and the pages of the same site it links to, breadth first, up to
    ``maxPages``; record each in D1. Only a start page that cannot be fetched fails the job."""
    start = _page_url(job.payload["url"])
    limit = job.payload.get("maxPages", DEFAULT_CRAWL_PAGES)
    site = urlsplit(start).netloc
    queue, seen, pages = [start], {start}, []
    while queue and len(pages) < limit:
        url = queue.pop(0)
        try:
            response = await _call("GET", url, None, {"accept": "text/html"}, "crawl-website")
        except JobFailed as error:
            if url == start:
                raise
            pages.append({"url": url, "status": 0, "title": None, "error": str(error)})
            continue
        html = await response.text()
        title_match = _TITLE.search(html)
        title = " ".join(title_match.group(1).split()) if title_match else None
        pages.append({"url": url, "status": response.status, "title": title, "bytes": len(html.encode())})
        for href in _HREF.findall(html):
            link = _page_url(urljoin(url, href.strip()))
            if (
                urlsplit(link).netloc == site
                and urlsplit(link).scheme in ("http", "https")
                and link not in seen
            ):
                seen.add(link)
                queue.append(link)
    await job.env.DB.batch(
        [
            job.env.DB.prepare(
                "INSERT INTO crawled_pages (job_id, url, status, title, crawled_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (job_id, url) DO UPDATE SET status = excluded.status, title = excluded.title"
            ).bind(job.id, page["url"], page["status"], page["title"], job.now_ms)
            for page in pages
        ]
    )
    return {"url": start, "pagesCrawled": len(pages), "pages": pages[:CRAWL_RESULT_PAGES]}
