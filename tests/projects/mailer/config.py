NAME = "mailer"
SENDER = "shop@example.com"
