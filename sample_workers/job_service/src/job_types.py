"""Every job type the service runs: what each payload must hold, and the work each one does.

send-email          {to, subject, body}          the email provider in [vars]
webhook-delivery    {url, method?, body?}        any endpoint ({event, data}: the receiver in [vars])
batch-import        {items, namespace}           rows upserted into D1 ({records, source} too)
generate-report     {report? | reportType?, days?, month?}   a summary of the job records
generate-embedding  {text, model?}               Workers AI, through env.AI
generate-content    {prompt, model?}             Workers AI, through env.AI
crawl-website       {url, maxPages?}             the pages of one site, recorded in D1
"""

from __future__ import annotations

from ai_jobs import generate_content, generate_embedding, validate_content, validate_embedding
from jobs_base import DAY_MS, InvalidPayload, JobFailed, JobRun, JobType
from outbound import (
    crawl_website,
    deliver_webhook,
    send_email,
    validate_crawl,
    validate_email,
    validate_webhook,
)
from records import generate_report, import_items, validate_import, validate_report

JOB_TYPES: dict[str, JobType] = {
    "send-email": JobType(validate_email, send_email),
    "webhook-delivery": JobType(validate_webhook, deliver_webhook),
    "batch-import": JobType(validate_import, import_items),
    "generate-report": JobType(validate_report, generate_report),
    "generate-embedding": JobType(validate_embedding, generate_embedding),
    "generate-content": JobType(validate_content, generate_content),
    "crawl-website": JobType(validate_crawl, crawl_website),
}

__all__ = ["DAY_MS", "JOB_TYPES", "InvalidPayload", "JobFailed", "JobRun", "JobType"]
