from .pricing import price_label

__all__ = ["price_label"]
