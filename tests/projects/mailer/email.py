"""The mailer's email templates (not the standard library's email package)."""

from config import SENDER


def render(message: dict) -> dict:
    return {"from": SENDER, "to": message["to"], "subject": message["subject"]}
