from .signing import sign

__all__ = ["sign"]
