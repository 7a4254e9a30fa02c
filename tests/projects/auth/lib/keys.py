SIGNING_KEY = "auth-local-key"
