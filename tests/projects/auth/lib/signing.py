import hashlib

from .keys import SIGNING_KEY


def sign(text: str) -> str:
    return hashlib.sha256(f"{SIGNING_KEY}:{text}".encode()).hexdigest()[:12]
