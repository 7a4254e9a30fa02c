"""Durations and step configs: Cloudflare's forms, its defaults, and clear errors."""

from __future__ import annotations

import pytest

from workerlab.workflows.config import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRY_DELAY_MS,
    DEFAULT_RETRY_LIMIT,
    DEFAULT_STEP_CONFIG,
    DEFAULT_STEP_TIMEOUT_MS,
    StepConfig,
    step_config,
)
from workerlab.workflows.durations import UNIT_MS, duration_ms
from workerlab.workflows.errors import WorkflowError


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("1 second", 1_000),
        ("10 seconds", 10_000),
        ("5 minutes", 300_000),
        ("1 minute", 60_000),
        ("1 hour", 3_600_000),
        ("2 hours", 7_200_000),
        ("2 days", 172_800_000),
        ("1 week", 604_800_000),
        ("1 month", 30 * 86_400_000),
        ("1 year", 365 * 86_400_000),
        ("1.5 seconds", 1_500),
        ("  3 Minutes ", 180_000),
    ],
)
def test_duration_strings(text: str, expected_ms: int) -> None:
    assert duration_ms(text, "here") == expected_ms


@pytest.mark.parametrize(("value", "expected_ms"), [(0, 0), (250, 250), (1.2, 2)])
def test_durations_in_milliseconds(value: float, expected_ms: int) -> None:
    assert duration_ms(value, "here") == expected_ms


@pytest.mark.parametrize("value", ["10", "ten seconds", "5 fortnights", "1 ms", "-1 second", "", "1 hour 5"])
def test_unreadable_duration_strings_say_what_is_expected(value: str) -> None:
    with pytest.raises(WorkflowError) as raised:
        duration_ms(value, 'step.sleep("nap") duration')
    message = str(raised.value)
    assert message.startswith('step.sleep("nap") duration: cannot read')
    assert repr(value) in message
    assert all(unit in message for unit in UNIT_MS)


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True, None, [1]])
def test_bad_duration_values(value: object) -> None:
    with pytest.raises(WorkflowError, match="here: expected"):
        duration_ms(value, "here")


def test_defaults_are_cloudflares() -> None:
    assert step_config(None, "s") == DEFAULT_STEP_CONFIG == StepConfig()
    assert (DEFAULT_RETRY_LIMIT, DEFAULT_RETRY_DELAY_MS, DEFAULT_BACKOFF, DEFAULT_STEP_TIMEOUT_MS) == (
        5,
        10_000,
        "exponential",
        600_000,
    )


def test_config_overrides_what_it_names() -> None:
    config = step_config({"retries": {"limit": 2, "delay": "3 seconds", "backoff": "linear"}}, "s")
    assert config == StepConfig(retry_limit=2, retry_delay_ms=3_000, backoff="linear")
    assert step_config({"timeout": 1500}, "s") == StepConfig(timeout_ms=1500)
    assert step_config({"retries": {"limit": 0, "delay": 0}}, "s").retry_limit == 0
    assert step_config({"sensitive": "output"}, "s") == DEFAULT_STEP_CONFIG
    assert step_config({"sensitive": "output"}, "s") == DEFAULT_STEP_CONFIG


@pytest.mark.parametrize(
    ("backoff", "delays_ms"),
    [
        ("constant", [1000, 1000, 1000, 1000]),
        ("linear", [1000, 2000, 3000, 4000]),
        ("exponential", [1000, 2000, 4000, 8000]),
    ],
)
def test_backoff_delays(backoff: str, delays_ms: list[int]) -> None:
    config = step_config({"retries": {"limit": 4, "delay": "1 second", "backoff": backoff}}, "s")
    assert [config.retry_delay_after(attempt) for attempt in (1, 2, 3, 4)] == delays_ms
    assert [config.may_retry_after(attempt) for attempt in (1, 4, 5)] == [True, True, False]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"retry": {}}, "unknown key 'retry'; expected one of: retries, timeout, sensitive"),
        ({"retries": {"limit": 1, "wait": 5}}, "retries: unknown key 'wait'"),
        (
            {"retries": {"limit": 1}},
            "retries needs both limit and delay (backoff is optional); delay is missing",
        ),
        ({"retries": {"delay": 1}}, "limit is missing"),
        ({"retries": {"limit": -1, "delay": 1}}, "retries.limit must be a whole number >= 0, found -1"),
        ({"retries": {"limit": 1.5, "delay": 1}}, "retries.limit must be a whole number >= 0"),
        ({"retries": {"limit": 1, "delay": 1, "backoff": "fib"}}, "retries.backoff must be one of constant"),
        ({"retries": {"limit": 1, "delay": "soon"}}, "retries.delay: cannot read 'soon'"),
        ({"sensitive": "all"}, 'sensitive may only be "output"'),
        ({"timeout": 0}, "timeout must be longer than 0"),
        ("fast", "expected a dict, found str"),
    ],
)
def test_bad_configs_name_the_step_and_the_key(config: object, message: str) -> None:
    with pytest.raises(WorkflowError) as raised:
        step_config(config, "charge card")
    assert str(raised.value).startswith('step "charge card" config')
    assert message in str(raised.value)
