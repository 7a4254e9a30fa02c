NAME = "auth"
#: Token -> user name (a real worker would keep these in KV).
TOKENS = {"t-ada": "ada", "t-bob": "bob"}
ROLES = {"ada": ("buyer", "admin"), "bob": ("buyer",)}
