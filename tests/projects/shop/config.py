NAME = "shop"
CURRENCY = "EUR"
