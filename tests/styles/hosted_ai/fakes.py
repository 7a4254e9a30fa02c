"""A stand-in for Workers AI: `workerlab dev --binding AI=fakes:make_ai`."""


class FakeAI:
    def __init__(self):
        self.calls = []

    async def run(self, model, inputs):
        self.calls.append((model, inputs))
        return {"response": f"fake answer to {inputs['prompt']!r}"}


def make_ai():
    return FakeAI()
