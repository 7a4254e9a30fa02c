"""The mailer's outbox (not the standard library's queue module)."""

OUTBOX: list[dict] = []


def put(message: dict) -> None:
    OUTBOX.append(message)
