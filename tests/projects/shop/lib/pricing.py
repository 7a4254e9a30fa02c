from . import money


def price_label(cents: int) -> str:
    return money.format_cents(cents)
