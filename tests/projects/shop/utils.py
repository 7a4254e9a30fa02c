from config import NAME


def owner() -> str:
    return f"utils of {NAME}"


def bearer_token(header: str | None) -> str:
    return (header or "").removeprefix("Bearer ").strip()
