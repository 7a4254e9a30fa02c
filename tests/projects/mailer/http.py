"""The mailer's provider API (not the standard library's http package)."""

PROVIDER_URL = "https://mail-provider.example/v3/send"
ACCEPTED = 202
