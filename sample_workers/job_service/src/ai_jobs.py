"""Job types whose work is Workers AI's: generate-embedding and generate-content, through ``env.AI``.

They need an ``[ai]`` binding. Where Workers AI cannot run (locally, unless a fake is supplied),
the job fails at once with the binding's own explanation recorded as its error.
"""

from __future__ import annotations

from typing import Any

from jobs_base import InvalidPayload, JobFailed, JobRun, binding, binding_failed, text

DEFAULT_EMBEDDING_MODEL = "@cf/baai/bge-base-en-v1.5"
DEFAULT_TEXT_MODEL = "@cf/meta/llama-3.1-8b-instruct"
#: Longest text to embed and longest prompt.
MAX_INPUT_CHARS = 20_000


def validate_embedding(payload: dict[str, Any]) -> None:
    """``{text, model?}``."""
    text(payload, "text", max_chars=MAX_INPUT_CHARS)
    _model(payload)


def validate_content(payload: dict[str, Any]) -> None:
    """``{prompt, model?}``."""
    text(payload, "prompt", max_chars=MAX_INPUT_CHARS)
    _model(payload)


def _model(payload: dict[str, Any]) -> None:
    model = payload.get("model")
    if model is not None and (not isinstance(model, str) or not model.startswith("@")):
        raise InvalidPayload(
            f"payload.model must name a Workers AI model like {DEFAULT_TEXT_MODEL}, found {model!r}"
        )


async def _run(job: JobRun, what: str, model: str, inputs: dict[str, Any]) -> Any:
    ai = binding(job, "AI", what)
    try:
        return await ai.run(model, inputs)
    except Exception as error:
        raise binding_failed(f"{what}: Workers AI ({model})", error) from error


def _field(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]``: AI results are JS objects on Cloudflare, dicts in fakes."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


async def generate_embedding(job: JobRun) -> dict[str, Any]:
    model = job.payload.get("model") or DEFAULT_EMBEDDING_MODEL
    output = await _run(job, "generate-embedding", model, {"text": [job.payload["text"]]})
    vectors = _field(output, "data")
    if not vectors:
        raise JobFailed(f"generate-embedding: {model} returned no vector", retryable=False)
    vector = [float(x) for x in vectors[0]]
    return {"model": model, "dimensions": len(vector), "embedding": vector}


async def generate_content(job: JobRun) -> dict[str, Any]:
    model = job.payload.get("model") or DEFAULT_TEXT_MODEL
    output = await _run(job, "generate-content", model, {"prompt": job.payload["prompt"]})
    response = _field(output, "response")
    if not isinstance(response, str):
        raise JobFailed(f"generate-content: {model} returned no text", retryable=False)
    return {"model": model, "response": response}
