"""What the job service tests share by import: the sample targets and the Workers AI stand-in
(the workerlab marker needs the fake when the test module loads)."""

from __future__ import annotations

from typing import Any

#: Where the sample payloads' webhook and crawl point.
WEBHOOK_TARGET = "https://api.example.com/webhook"
SITE = "https://example.com"


class FakeAI:
    """A stand-in for Workers AI (the marker's ``bindings={"AI": FAKE_AI}``): canned answers, and
    every call kept. ``during`` (set by a test) runs inside a call, as if the model took a while."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.during: Any = None

    async def run(self, model: str, inputs: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((model, inputs))
        if self.during is not None:
            await self.during()
        if "text" in inputs:
            return {"shape": [1, 3], "data": [[0.25, -0.5, 1.0]]}
        return {"response": f"A post about {inputs['prompt'][:20]}"}


FAKE_AI = FakeAI()
