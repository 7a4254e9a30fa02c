"""Stand-ins for services a test or `workerlab dev --binding` supplies."""


class Events:
    """A binding that calls back the listeners JS code lent it (as create_proxy lends them)."""

    def __init__(self):
        self.listeners = []

    def subscribe(self, listener):
        self.listeners.append(listener)

    async def emit(self, name):
        for listener in self.listeners:
            listener(name)


def make_events():
    return Events()
