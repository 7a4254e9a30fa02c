from config import NAME


def owner() -> str:
    return f"utils of {NAME}"
