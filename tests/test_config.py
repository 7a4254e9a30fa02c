"""wrangler.toml / wrangler.json(c) parsing, env overlays, dev vars and --var flags."""

from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path

import pytest

from workerlab import limits
from workerlab.bindings.d1 import D1Database
from workerlab.bindings.kv import KVNamespace
from workerlab.bindings.queue import QueueProducer
from workerlab.bindings.r2 import R2Bucket
from workerlab.config import (
    QueueConsumer,
    Var,
    WorkerConfig,
    default_persist_dir,
    discover_config,
    load_config,
)
from workerlab.envvars import load_dev_vars, merged_vars, parse_var_flags
from workerlab.errors import ConfigError

FULL_TOML = """
name = "shop"
main = "src/worker.py"
compatibility_date = "2026-01-01"
compatibility_flags = ["python_workers"]
workers_dev = true
routes = ["example.com/*"]

[observability]
enabled = true

[vars]
API_HOST = "api.example.com"
RETRIES = 3
RATIO = 0.5
DEBUG = false
LIMITS = { burst = 10 }

[[queues.producers]]
binding = "JOBS"
queue = "jobs"
delivery_delay = 30

[[queues.producers]]
binding = "EMAILS"

[[queues.consumers]]
queue = "jobs"
max_batch_size = 25
max_batch_timeout = 0.5
max_retries = 7
retry_delay = 60
dead_letter_queue = "jobs-dlq"
max_concurrency = 4

[[queues.consumers]]
queue = "jobs-dlq"

[[kv_namespaces]]
binding = "CACHE"
id = "abc123"

[[d1_databases]]
binding = "DB"
database_name = "app"
database_id = "d1-uuid"

[[d1_databases]]
binding = "ANALYTICS"
database_name = "analytics"
migrations_dir = "db/analytics"

[[r2_buckets]]
binding = "BUCKET"
bucket_name = "files"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the worker modules configs refer to, as the working folder."""
    write(tmp_path, "worker.py", "")
    write(tmp_path, "src/worker.py", "")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_toml(project: Path, text: str, *, env: str | None = None) -> WorkerConfig:
    write(project, "wrangler.toml", text)
    return load_config(project / "wrangler.toml", env=env)


def error_of(project: Path, text: str, *, name: str = "wrangler.toml", env: str | None = None) -> str:
    write(project, name, text)
    with pytest.raises(ConfigError) as info:
        load_config(project / name, env=env)
    return str(info.value)


MINIMAL = 'name = "w"\nmain = "worker.py"\n'


# --- Good files --------------------------------------------------------------------------


def test_full_toml_maps_every_key(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="workerlab")
    config = load_toml(project, FULL_TOML)

    assert config.path == project / "wrangler.toml"
    assert config.root == project
    assert config.name == "shop"
    assert config.main == project / "src" / "worker.py"
    assert config.main.is_absolute()
    assert config.compatibility_date == "2026-01-01"
    assert config.compatibility_flags == ("python_workers",)
    assert config.env_name is None
    assert config.vars == {
        "API_HOST": "api.example.com",
        "RETRIES": 3,
        "RATIO": 0.5,
        "DEBUG": False,
        "LIMITS": {"burst": 10},
    }
    assert config.bindings_of(QueueProducer) == (
        QueueProducer(binding="JOBS", queue="jobs", delivery_delay_s=30),
        QueueProducer(binding="EMAILS", queue="EMAILS", delivery_delay_s=0),
    )
    assert config.consumers == (
        QueueConsumer(
            queue="jobs",
            max_batch_size=25,
            max_batch_timeout_s=0.5,
            max_retries=7,
            retry_delay_s=60,
            dead_letter_queue="jobs-dlq",
            max_concurrency=4,
        ),
        QueueConsumer(queue="jobs-dlq"),
    )
    assert config.bindings_of(KVNamespace) == (KVNamespace(binding="CACHE", id="abc123"),)
    assert config.bindings_of(D1Database) == (
        D1Database(
            binding="DB", database_name="app", database_id="d1-uuid", migrations_dir=project / "migrations"
        ),
        D1Database(
            binding="ANALYTICS", database_name="analytics", migrations_dir=project / "db" / "analytics"
        ),
    )
    assert config.bindings_of(R2Bucket) == (R2Bucket(binding="BUCKET", bucket_name="files"),)
    assert config.crons == ()
    # workers_dev, routes and observability are wrangler keys with nothing to do locally.
    assert caplog.records == []


def test_consumer_defaults_are_cloudflares(project: Path) -> None:
    config = load_toml(project, MINIMAL + '[[queues.consumers]]\nqueue = "q"\n')
    (consumer,) = config.consumers
    assert consumer.max_batch_size == limits.DEFAULT_MAX_BATCH_SIZE
    assert consumer.max_batch_timeout_s == limits.DEFAULT_MAX_BATCH_TIMEOUT_S
    assert consumer.max_retries == limits.DEFAULT_MAX_RETRIES
    assert consumer.retry_delay_s == limits.DEFAULT_RETRY_DELAY_S
    assert consumer.max_concurrency == limits.DEFAULT_MAX_CONCURRENCY
    assert consumer.dead_letter_queue is None


def test_consumer_limits_are_inclusive(project: Path) -> None:
    text = MINIMAL + (
        "[[queues.consumers]]\n"
        'queue = "high"\n'
        f"max_batch_size = {limits.MAX_MAX_BATCH_SIZE}\n"
        f"max_batch_timeout = {int(limits.MAX_MAX_BATCH_TIMEOUT_S)}\n"
        f"max_retries = {limits.MAX_MAX_RETRIES}\n"
        f"retry_delay = {limits.MAX_DELAY_S}\n"
        f"max_concurrency = {limits.MAX_MAX_CONCURRENCY}\n"
        "[[queues.consumers]]\n"
        'queue = "low"\n'
        f"max_batch_size = {limits.MIN_MAX_BATCH_SIZE}\n"
        "max_batch_timeout = 0\n"
        "max_retries = 0\n"
        "retry_delay = 0\n"
        "max_concurrency = 1\n"
    )
    high, low = load_toml(project, text).consumers
    assert high == QueueConsumer(
        queue="high",
        max_batch_size=limits.MAX_MAX_BATCH_SIZE,
        max_batch_timeout_s=limits.MAX_MAX_BATCH_TIMEOUT_S,
        max_retries=limits.MAX_MAX_RETRIES,
        retry_delay_s=limits.MAX_DELAY_S,
        max_concurrency=limits.MAX_MAX_CONCURRENCY,
    )
    assert low == QueueConsumer(
        queue="low",
        max_batch_size=limits.MIN_MAX_BATCH_SIZE,
        max_batch_timeout_s=0.0,
        max_retries=0,
        retry_delay_s=0,
        max_concurrency=1,
    )
    assert isinstance(low.max_batch_timeout_s, float)


def test_http_pull_consumer_keeps_its_settings(project: Path) -> None:
    config = load_toml(
        project,
        MINIMAL + '[[queues.consumers]]\nqueue = "q"\ntype = "http_pull"\nvisibility_timeout_ms = 5000\n'
        "message_retention_period = 3600\nmax_retries = 2\n",
    )
    assert config.consumers == (
        QueueConsumer(
            queue="q",
            type="http_pull",
            visibility_timeout_ms=5000,
            message_retention_period_s=3600,
            max_retries=2,
        ),
    )


def test_consumer_retention_and_visibility_default_to_cloudflares(project: Path) -> None:
    [consumer] = load_toml(project, MINIMAL + '[[queues.consumers]]\nqueue = "q"\n').consumers
    assert consumer.type == "worker"
    assert consumer.message_retention_period_s == limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S
    assert consumer.visibility_timeout_ms == limits.DEFAULT_VISIBILITY_TIMEOUT_MS


@pytest.mark.parametrize("seconds", [59, 1_209_601, 1.5])
def test_message_retention_period_out_of_range_is_an_error(project: Path, seconds: object) -> None:
    with pytest.raises(ConfigError, match=r"queues\.consumers\[0\]\.message_retention_period"):
        load_toml(
            project, MINIMAL + f'[[queues.consumers]]\nqueue = "q"\nmessage_retention_period = {seconds}\n'
        )


def test_toml_date_value_for_compatibility_date(project: Path) -> None:
    config = load_toml(project, MINIMAL + "compatibility_date = 2025-03-10\n")
    assert config.compatibility_date == "2025-03-10"


def test_name_defaults_to_config_folder(project: Path) -> None:
    config = load_toml(project, 'main = "worker.py"\n')
    assert config.name == project.name


def test_d1_without_name_uses_its_id(project: Path) -> None:
    config = load_toml(project, MINIMAL + '[[d1_databases]]\nbinding = "DB"\ndatabase_id = "x-1"\n')
    assert config.bindings_of(D1Database)[0].database_name == "x-1"


JSONC = """
// wrangler.jsonc with everything JSONC allows
{
  "$schema": "./node_modules/wrangler/config-schema.json",
  "name": "shop", /* block comment */
  "main": "src/worker.py",
  "vars": {
    "URL": "https://example.com/a//b", // a // inside a string is not a comment
    "NOTE": "/* not a comment */",
    "QUOTE": "say \\"hi\\", // still a string",
  },
  "queues": {
    "producers": [{ "binding": "JOBS", "queue": "jobs" },],
    "consumers": [{ "queue": "jobs", "max_batch_size": 5, "max_concurrency": null }],
  },
  "triggers": { "crons": [] },
  "kv_namespaces": [{ "binding": "CACHE", "id": "kv" }],
  "d1_databases": [{ "binding": "DB", "database_name": "app" }],
  "r2_buckets": [{ "binding": "BUCKET", "bucket_name": "files" }],
}
"""


@pytest.mark.parametrize("name", ["wrangler.jsonc", "wrangler.json"])
def test_jsonc_comments_and_trailing_commas(project: Path, name: str) -> None:
    write(project, name, JSONC)
    config = load_config(project / name)
    assert config.name == "shop"
    assert config.main == project / "src" / "worker.py"
    assert config.vars == {
        "URL": "https://example.com/a//b",
        "NOTE": "/* not a comment */",
        "QUOTE": 'say "hi", // still a string',
    }
    assert config.bindings_of(QueueProducer) == (QueueProducer(binding="JOBS", queue="jobs"),)
    # null max_concurrency is wrangler's "autoscale": the local default.
    assert config.consumers == (QueueConsumer(queue="jobs", max_batch_size=5),)
    assert config.bindings_of(KVNamespace) == (KVNamespace(binding="CACHE", id="kv"),)
    assert config.bindings_of(D1Database) == (
        D1Database(binding="DB", database_name="app", migrations_dir=project / "migrations"),
    )
    assert config.bindings_of(R2Bucket) == (R2Bucket(binding="BUCKET", bucket_name="files"),)


def test_toml_and_json_give_the_same_config(project: Path) -> None:
    import tomllib

    as_toml = load_toml(project, FULL_TOML)
    write(project, "wrangler.json", json.dumps(tomllib.loads(FULL_TOML)))
    as_json = load_config(project / "wrangler.json")
    assert as_json == as_toml.__class__(**{**as_toml.__dict__, "path": project / "wrangler.json"})


def test_relative_path_is_relative_to_cwd(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    write(project, "sub/wrangler.toml", 'name = "w"\nmain = "../worker.py"\n')
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    config = load_config(Path("sub/wrangler.toml"), cwd=project)
    assert config.path == project / "sub" / "wrangler.toml"
    assert config.main == project / "worker.py"
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Path("sub/wrangler.toml"), cwd=elsewhere)


# --- Discovery ---------------------------------------------------------------------------


def test_discovery_order(project: Path) -> None:
    write(project, "wrangler.toml", MINIMAL)
    assert discover_config(project) == project / "wrangler.toml"
    write(project, "wrangler.jsonc", '{"name": "jsonc", "main": "worker.py"}')
    assert discover_config(project) == project / "wrangler.jsonc"
    write(project, "wrangler.json", '{"name": "json", "main": "worker.py"}')
    assert discover_config(project) == project / "wrangler.json"
    assert load_config().name == "json"
    assert load_config(cwd=project).name == "json"


def test_discovery_failure_names_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        discover_config(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    for name in ("wrangler.json", "wrangler.jsonc", "wrangler.toml"):
        assert name in message


# --- Environments ------------------------------------------------------------------------

ENV_TOML = """
name = "shop"
main = "worker.py"
compatibility_date = "2026-01-01"

[vars]
MODE = "top"

[triggers]
crons = []

[[kv_namespaces]]
binding = "CACHE"

[[queues.producers]]
binding = "JOBS"

[env.staging]
compatibility_date = "2026-02-02"

[env.staging.vars]
MODE = "staging"

[[env.staging.r2_buckets]]
binding = "BUCKET"
bucket_name = "staging-files"

[env.production]
name = "shop-prod"
main = "src/worker.py"
"""


def test_env_overlays_inheritable_keys(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    top = load_toml(project, ENV_TOML)
    assert top.env_name is None
    assert top.vars == {"MODE": "top"}
    assert top.bindings_of(R2Bucket) == ()

    staging = load_config(project / "wrangler.toml", env="staging")
    assert staging.env_name == "staging"
    assert staging.name == "shop-staging"  # wrangler: <top-level name>-<env>
    assert staging.main == project / "worker.py"  # inherited
    assert staging.compatibility_date == "2026-02-02"  # overridden
    assert staging.vars == {"MODE": "staging"}
    assert staging.bindings_of(R2Bucket) == (R2Bucket(binding="BUCKET", bucket_name="staging-files"),)

    production = load_config(project / "wrangler.toml", env="production")
    assert production.name == "shop-prod"
    assert production.main == project / "src" / "worker.py"
    assert production.compatibility_date == "2026-01-01"


def test_env_in_json(project: Path) -> None:
    write(
        project,
        "wrangler.jsonc",
        """{
          "name": "shop", "main": "worker.py", "vars": {"MODE": "top"},
          "env": {"dev": {"vars": {"MODE": "dev"}, "kv_namespaces": [{"binding": "KV"}]}},
        }""",
    )
    dev = load_config(project / "wrangler.jsonc", env="dev")
    assert (dev.name, dev.vars) == ("shop-dev", {"MODE": "dev"})
    assert dev.bindings_of(KVNamespace) == (KVNamespace("KV"),)
    write(
        project,
        "wrangler.jsonc",
        '{"main": "worker.py", "env": {"dev": {"vars": {"N": {}}, "r2_buckets": [1]}}}',
    )
    with pytest.raises(ConfigError) as info:
        load_config(project / "wrangler.jsonc", env="dev")
    assert str(info.value) == "wrangler.jsonc: env.dev.r2_buckets[0] must be an object, found 1"


def test_env_does_not_inherit_vars_or_bindings(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="workerlab")
    write(project, "wrangler.toml", ENV_TOML)
    production = load_config(project / "wrangler.toml", env="production")
    assert production.vars == {}
    assert production.bindings_of(KVNamespace) == ()
    assert production.bindings_of(QueueProducer) == ()
    assert production.bindings_of(R2Bucket) == ()
    messages = [record.getMessage() for record in caplog.records]
    for key in ("vars", "kv_namespaces", "queues"):
        assert any(f": {key} exists at the top level but not in [env.production]" in m for m in messages)
    assert all(m.startswith("wrangler.toml: ") for m in messages)


@pytest.fixture
def fake_cron(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for workerlab.cron.validate_cron: rejects any expression containing "61"."""
    checked: list[str] = []

    def validate_cron(expr: str) -> None:
        checked.append(expr)
        if "61" in expr:
            raise ValueError("minute 61 is out of range 0-59")

    monkeypatch.setitem(sys.modules, "workerlab.cron", types.SimpleNamespace(validate_cron=validate_cron))
    return checked


def test_env_inherits_crons(project: Path, fake_cron: list[str]) -> None:
    text = MINIMAL + '[triggers]\ncrons = ["*/5 * * * *"]\n[env.dev]\n[env.other.triggers]\ncrons = []\n'
    assert load_toml(project, text, env="dev").crons == ("*/5 * * * *",)
    assert load_config(project / "wrangler.toml", env="other").crons == ()


def test_unknown_env_lists_the_defined_ones(project: Path) -> None:
    message = error_of(project, ENV_TOML, env="prod")
    assert message.startswith('wrangler.toml: --env "prod" must name an environment')
    assert 'found no [env.prod] (environments: "production", "staging")' in message


def test_unknown_env_when_none_defined(project: Path) -> None:
    message = error_of(project, MINIMAL, env="dev")
    assert message.startswith('wrangler.toml: --env "dev"')
    assert "none are defined" in message


def test_env_errors_name_the_env_key_path(project: Path) -> None:
    text = MINIMAL + '[[env.dev.queues.consumers]]\nqueue = "q"\nmax_retries = -1\n'
    message = error_of(project, text, env="dev")
    assert message == (
        f"wrangler.toml: env.dev.queues.consumers[0].max_retries must be an integer from 0 to "
        f"{limits.MAX_MAX_RETRIES}, found -1"
    )


def test_env_top_level_only_key_is_warned(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="workerlab")
    load_toml(project, MINIMAL + "[env.dev]\nkeep_vars = true\nmian = 'x.py'\n", env="dev")
    messages = [record.getMessage() for record in caplog.records]
    assert "wrangler.toml: env.dev.keep_vars ignored: it is only valid at the top level" in messages
    assert "wrangler.toml: unknown key env.dev.mian ignored (did you mean env.dev.main?)" in messages


# --- Unknown keys -----------------------------------------------------------------------


def test_unknown_keys_are_warned_not_fatal(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="workerlab")
    text = (
        MINIMAL
        + "colour = 'blue'\n"
        + "[[queues.consumers]]\nqueue = 'q'\nmax_batch_sise = 5\n"
        + "[[kv_namespaces]]\nbinding = 'KV'\nttl = 1\n"
        + "[triggers]\ncron = []\n"
    )
    config = load_toml(project, text)
    assert config.consumers == (QueueConsumer(queue="q"),)
    assert all(record.name == "workerlab" and record.levelno == logging.WARNING for record in caplog.records)
    assert [record.getMessage() for record in caplog.records] == [
        "wrangler.toml: unknown key colour ignored",
        "wrangler.toml: unknown key triggers.cron ignored (did you mean triggers.crons?)",
        "wrangler.toml: unknown key queues.consumers[0].max_batch_sise ignored "
        "(did you mean queues.consumers[0].max_batch_size?)",
        "wrangler.toml: unknown key kv_namespaces[0].ttl ignored",
    ]


# --- Errors: file, key path, expected, found ---------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_batch_size = 500\n",
            f"queues.consumers[0].max_batch_size must be an integer from {limits.MIN_MAX_BATCH_SIZE} "
            f"to {limits.MAX_MAX_BATCH_SIZE}, found 500",
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_batch_size = 0\n",
            f"queues.consumers[0].max_batch_size must be an integer from {limits.MIN_MAX_BATCH_SIZE} "
            f"to {limits.MAX_MAX_BATCH_SIZE}, found 0",
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_retries = 'ten'\n",
            f"queues.consumers[0].max_retries must be an integer from 0 to {limits.MAX_MAX_RETRIES}, "
            'found "ten"',
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_retries = true\n",
            f"queues.consumers[0].max_retries must be an integer from 0 to {limits.MAX_MAX_RETRIES}, "
            "found true",
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_batch_size = 10.0\n",
            f"queues.consumers[0].max_batch_size must be an integer from {limits.MIN_MAX_BATCH_SIZE} "
            f"to {limits.MAX_MAX_BATCH_SIZE}, found 10.0",
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_batch_timeout = 60.5\n",
            f"queues.consumers[0].max_batch_timeout must be a number of seconds from 0 to "
            f"{int(limits.MAX_MAX_BATCH_TIMEOUT_S)}, found 60.5",
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_batch_timeout = false\n",
            f"queues.consumers[0].max_batch_timeout must be a number of seconds from 0 to "
            f"{int(limits.MAX_MAX_BATCH_TIMEOUT_S)}, found false",
        ),
        (
            f"[[queues.consumers]]\nqueue = 'q'\nretry_delay = {limits.MAX_DELAY_S + 1}\n",
            f"queues.consumers[0].retry_delay must be an integer from 0 to {limits.MAX_DELAY_S}, "
            f"found {limits.MAX_DELAY_S + 1}",
        ),
        (
            f"[[queues.consumers]]\nqueue = 'q'\nmax_concurrency = {limits.MAX_MAX_CONCURRENCY + 1}\n",
            f"queues.consumers[0].max_concurrency must be an integer from 1 to {limits.MAX_MAX_CONCURRENCY}, "
            f"found {limits.MAX_MAX_CONCURRENCY + 1}",
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\nmax_concurrency = 0\n",
            f"queues.consumers[0].max_concurrency must be an integer from 1 to {limits.MAX_MAX_CONCURRENCY}, "
            "found 0",
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\ndead_letter_queue = 'q'\n",
            'queues.consumers[0].dead_letter_queue must be a queue other than "q" itself, found "q"',
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\ntype = 'push'\n",
            'queues.consumers[0].type must be "worker" or "http_pull", found "push"',
        ),
        (
            "[[queues.consumers]]\nqueue = 'q'\n[[queues.consumers]]\nqueue = 'q'\n",
            'queues.consumers[1].queue must be a queue that has no other consumer, found "q" '
            "(queues.consumers[0] already consumes it)",
        ),
        (
            "[[queues.consumers]]\nmax_retries = 1\n",
            "queues.consumers[0].queue must be a non-empty string, found nothing",
        ),
        (
            "[[queues.producers]]\nbinding = 'JOBS'\ndelivery_delay = -5\n",
            f"queues.producers[0].delivery_delay must be an integer from 0 to {limits.MAX_DELAY_S}, found -5",
        ),
        (
            "[[queues.producers]]\nqueue = 'jobs'\n",
            "queues.producers[0].binding must be a non-empty string, found nothing",
        ),
        (
            "[[queues.producers]]\nbinding = ''\n",
            'queues.producers[0].binding must be a non-empty string, found ""',
        ),
        (
            "[queues.producers]\nbinding = 'JOBS'\n",
            "queues.producers must be an array of tables ([[queues.producers]]), found a table",
        ),
        ("queues = 3\n", "queues must be a table, found 3"),
        ("[[vars]]\nA = 1\n", "vars must be a table, found an array"),
        (
            "[vars]\nWHEN = 2026-01-01T00:00:00Z\n",
            "vars.WHEN must be a string, number, boolean, array or table, found the datetime "
            "2026-01-01T00:00:00+00:00",
        ),
        (
            "[[kv_namespaces]]\nid = 'x'\n",
            "kv_namespaces[0].binding must be a non-empty string, found nothing",
        ),
        (
            "[[kv_namespaces]]\nbinding = 'KV'\nid = 7\n",
            "kv_namespaces[0].id must be a non-empty string, found 7",
        ),
        (
            "[[d1_databases]]\nbinding = 'DB'\n",
            "d1_databases[0].database_name must be a non-empty string, found nothing",
        ),
        (
            "[[d1_databases]]\nbinding = 'DB'\ndatabase_name = 'app'\nmigrations_dir = 1\n",
            "d1_databases[0].migrations_dir must be a non-empty string, found 1",
        ),
        (
            "[[r2_buckets]]\nbinding = 'B'\n",
            "r2_buckets[0].bucket_name must be a non-empty string, found nothing",
        ),
        ("r2_buckets = ['files']\n", 'r2_buckets[0] must be a table, found "files"'),
        (
            "[[kv_namespaces]]\nbinding = 'SAME'\n[[r2_buckets]]\nbinding = 'SAME'\nbucket_name = 'b'\n",
            'r2_buckets[0].binding must be a name no other binding or var uses, found "SAME" '
            "(kv_namespaces[0].binding uses it too)",
        ),
        (
            "[vars]\nJOBS = 'x'\n[[queues.producers]]\nbinding = 'JOBS'\n",
            'queues.producers[0].binding must be a name no other binding or var uses, found "JOBS" '
            "(vars.JOBS uses it too)",
        ),
        (
            "compatibility_date = '2026-13-01'\n",
            'compatibility_date must be a date in the form YYYY-MM-DD, found "2026-13-01"',
        ),
        (
            "compatibility_date = 'today'\n",
            'compatibility_date must be a date in the form YYYY-MM-DD, found "today"',
        ),
        (
            "compatibility_flags = 'python_workers'\n",
            'compatibility_flags must be an array of strings, found "python_workers"',
        ),
        ("compatibility_flags = [1]\n", "compatibility_flags[0] must be a string, found 1"),
        (
            "[triggers]\ncrons = '* * * * *'\n",
            'triggers.crons must be an array of strings, found "* * * * *"',
        ),
        ("triggers = []\n", "triggers must be a table, found an array"),
        ("env = 1\n", "env must be a table, found 1"),
    ],
)
def test_error_messages(project: Path, snippet: str, expected: str) -> None:
    assert error_of(project, MINIMAL + snippet) == f"wrangler.toml: {expected}"


def test_name_must_be_a_string(project: Path) -> None:
    assert error_of(project, 'name = 5\nmain = "worker.py"\n') == (
        "wrangler.toml: name must be a non-empty string, found 5"
    )


def test_main_errors(project: Path) -> None:
    assert error_of(project, 'name = "w"\n') == (
        "wrangler.toml: main must be the path of the worker's .py module, relative to wrangler.toml, "
        "found nothing"
    )
    assert error_of(project, 'name = "w"\nmain = "src/index.js"\n') == (
        "wrangler.toml: main must be the path of the worker's .py module, relative to wrangler.toml, "
        'found "src/index.js"'
    )
    message = error_of(project, 'name = "w"\nmain = "missing.py"\n')
    assert message == (
        'wrangler.toml: main must be an existing .py file, found "missing.py" '
        f"(no such file: {project / 'missing.py'})"
    )


def test_main_is_relative_to_the_config_file(project: Path) -> None:
    write(project, "sub/worker.py", "")
    write(project, "sub/wrangler.toml", 'name = "w"\nmain = "worker.py"\n')
    assert load_config(project / "sub" / "wrangler.toml").main == project / "sub" / "worker.py"
    write(project, "sub/wrangler.toml", 'name = "w"\nmain = "src/worker.py"\n')
    with pytest.raises(ConfigError, match=r"^sub/wrangler.toml: main must be an existing .py file"):
        load_config(project / "sub" / "wrangler.toml")


def test_crons_are_validated_with_validate_cron(project: Path, fake_cron: list[str]) -> None:
    config = load_toml(project, MINIMAL + '[triggers]\ncrons = ["*/5 * * * *", "0 0 * * *"]\n')
    assert config.crons == ("*/5 * * * *", "0 0 * * *")
    assert fake_cron == ["*/5 * * * *", "0 0 * * *"]
    message = error_of(
        project, MINIMAL + '[env.dev.triggers]\ncrons = ["0 0 * * *", "61 * * * *"]\n', env="dev"
    )
    assert message == (
        "wrangler.toml: env.dev.triggers.crons[1] must be a valid five-field cron expression, "
        'found "61 * * * *" (minute 61 is out of range 0-59)'
    )


def test_crons_with_the_real_validator(project: Path) -> None:
    pytest.importorskip("workerlab.cron")
    config = load_toml(project, MINIMAL + '[triggers]\ncrons = ["*/5 * * * *", "0 0 * * *"]\n')
    assert config.crons == ("*/5 * * * *", "0 0 * * *")
    message = error_of(project, MINIMAL + '[triggers]\ncrons = ["*/5 * * * *", "61 * * * *"]\n')
    assert message.startswith(
        'wrangler.toml: triggers.crons[1] must be a valid five-field cron expression, found "61 * * * *" ('
    )


def test_json_error_uses_object_wording(project: Path) -> None:
    message = error_of(project, '{"name": "w", "main": "worker.py", "vars": []}', name="wrangler.json")
    assert message == "wrangler.json: vars must be an object, found an array"
    message = error_of(
        project, '{"name": "w", "main": "worker.py", "queues": {"producers": {}}}', name="wrangler.json"
    )
    assert message == "wrangler.json: queues.producers must be an array of objects, found an object"
    message = error_of(project, '{"main": "worker.py", "vars": {"A": [1, null]}}', name="wrangler.json")
    assert (
        message == "wrangler.json: vars.A[1] must be a string, number, boolean, array or object, found null"
    )
    message = error_of(project, '[{"name": "w"}]', name="wrangler.json")
    assert message == "wrangler.json: the top level must be an object, found an array"
    message = error_of(
        project,
        '{"main": "worker.py", "queues": {"consumers": [{"queue": "q", "max_concurrency": "1"}]}}',
        name="wrangler.json",
    )
    assert message == (
        "wrangler.json: queues.consumers[0].max_concurrency must be an integer from 1 to "
        f'{limits.MAX_MAX_CONCURRENCY}, found "1"'
    )


def test_toml_syntax_error_names_line_and_column(project: Path) -> None:
    message = error_of(project, 'name = "w"\nmain = "worker.py"\nmax_retries =\n')
    assert message == 'wrangler.toml: invalid TOML at line 3, column 14: Invalid value; found "max_retries ="'


def test_toml_syntax_error_at_end_of_file(project: Path) -> None:
    message = error_of(project, 'name = "w"\nmain = "worker.py"\nvars = {A = 1')
    assert message.startswith("wrangler.toml: invalid TOML at line 3")
    assert 'found "vars = {A = 1"' in message


def test_json_syntax_error_names_line_and_column(project: Path) -> None:
    text = '{\n  // comment\n  "name": "w",\n  "main": "worker.py" "vars": {}\n}\n'
    message = error_of(project, text, name="wrangler.jsonc")
    assert message == (
        "wrangler.jsonc: invalid JSON at line 4, column 23: Expecting ',' delimiter; "
        'found "\\"main\\": \\"worker.py\\" \\"vars\\": {}"'
    )


def test_unclosed_block_comment(project: Path) -> None:
    message = error_of(project, '{\n"name": "w"\n/* never\n}', name="wrangler.jsonc")
    assert message == 'wrangler.jsonc: invalid JSON at line 3: a /* comment is never closed; found "/* never"'


def test_missing_file_and_bad_suffix(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nope.toml: config file not found$"):
        load_config(Path("nope.toml"))
    write(project, "wrangler.yaml", "name: w\n")
    with pytest.raises(ConfigError, match=r"^wrangler.yaml: config file must end in .toml, .json or .jsonc"):
        load_config(Path("wrangler.yaml"))


def test_path_outside_cwd_is_shown_in_full(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    write(elsewhere, "wrangler.toml", 'name = "w"\nmain = "worker.py"\n')
    with pytest.raises(ConfigError) as info:
        load_config(elsewhere / "wrangler.toml")
    assert str(info.value).startswith(f"{elsewhere / 'wrangler.toml'}: main must be an existing .py file")


# --- Dev vars ----------------------------------------------------------------------------


def test_dev_vars_syntax(project: Path) -> None:
    write(
        project,
        ".dev.vars",
        "# secrets\n"
        "\n"
        "PLAIN=value\n"
        "SPACED = spaced value  \n"
        "export EXPORTED=yes\n"
        'DOUBLE="a \\"quoted\\" line\\nnext"\n'
        "SINGLE='literal \\n # not a comment'\n"
        "INLINE=before # comment\n"
        'QUOTED_COMMENT="x" # comment\n'
        "EMPTY=\n"
        "WITH_EQUALS=a=b\n"
        'MULTI="line one\n'
        'line two"\n'
        "dotted.key-name=1\n"
        "PLAIN=later wins\n",
    )
    config = load_toml(project, MINIMAL)
    assert load_dev_vars(config) == {
        "PLAIN": "later wins",
        "SPACED": "spaced value",
        "EXPORTED": "yes",
        "DOUBLE": 'a "quoted" line\nnext',  # python-dotenv decodes \" too
        "SINGLE": "literal \\n # not a comment",
        "INLINE": "before",
        "QUOTED_COMMENT": "x",
        "EMPTY": "",
        "WITH_EQUALS": "a=b",
        "MULTI": "line one\nline two",
        "dotted.key-name": "1",
    }


@pytest.mark.parametrize(
    ("text", "line", "expected", "found"),
    [
        ("A=1\nJUST_A_WORD\n", 2, "KEY=VALUE", '"JUST_A_WORD"'),
        ("A=1\n\n\n=x\n", 4, "KEY=VALUE", '"=x"'),
        ("A=1\r\n# note\r\nB C=2\r\n", 3, "KEY=VALUE", '"B C=2"'),
        ("=x\n", 1, "KEY=VALUE", '"=x"'),
        ('A="open\nB=2\n', 1, 'KEY=VALUE with the " quote closed', '"A=\\"open"'),
        (
            "A='x' trailing\n",
            1,
            "KEY=VALUE with nothing but a # comment after the quote",
            "\"A='x' trailing\"",
        ),
    ],
)
def test_dev_vars_malformed_line(project: Path, text: str, line: int, expected: str, found: str) -> None:
    write(project, ".dev.vars", text)
    config = load_toml(project, MINIMAL)
    with pytest.raises(ConfigError) as info:
        load_dev_vars(config)
    assert str(info.value) == f".dev.vars: line {line} must be {expected}, found {found}"


def test_dev_vars_precedence(project: Path) -> None:
    write(project, "wrangler.toml", MINIMAL + "[env.staging]\n[env.qa]\n")
    top = load_config(project / "wrangler.toml")
    staging = load_config(project / "wrangler.toml", env="staging")
    qa = load_config(project / "wrangler.toml", env="qa")
    assert load_dev_vars(top) == {}

    write(project, ".env", "A=env\nB=env\nC=env\nD=env\n")
    write(project, ".env.staging", "B=env.staging\nC=env.staging\nD=env.staging\n")
    write(project, ".env.local", "C=env.local\nD=env.local\n")
    write(project, ".env.staging.local", "D=env.staging.local\n")
    assert load_dev_vars(top) == {"A": "env", "B": "env", "C": "env.local", "D": "env.local"}
    assert load_dev_vars(staging) == {
        "A": "env",
        "B": "env.staging",
        "C": "env.local",
        "D": "env.staging.local",
    }

    # Any .dev.vars file means .env files are not read at all.
    write(project, ".dev.vars", "A=dev\n")
    write(project, ".dev.vars.staging", "B=dev.staging\n")
    assert load_dev_vars(top) == {"A": "dev"}
    assert load_dev_vars(staging) == {"B": "dev.staging"}  # replaces .dev.vars, no merge
    assert load_dev_vars(qa) == {"A": "dev"}  # no .dev.vars.qa: falls back to .dev.vars


def test_dev_vars_are_read_next_to_the_config(project: Path) -> None:
    write(project, "sub/worker.py", "")
    write(project, "sub/wrangler.toml", MINIMAL)
    write(project, ".dev.vars", "A=wrong folder\n")
    write(project, "sub/.dev.vars", "A=right folder\n")
    assert load_dev_vars(load_config(project / "sub" / "wrangler.toml")) == {"A": "right folder"}


def test_merged_vars_later_sources_win(project: Path) -> None:
    config = load_toml(project, MINIMAL + "[vars]\nA = 'vars'\nB = 'vars'\nC = 'vars'\nN = 1\n")
    assert merged_vars(config, None) == {"A": "vars", "B": "vars", "C": "vars", "N": 1}
    write(project, ".dev.vars", "B=dev\nC=dev\n")
    assert merged_vars(config, None) == {"A": "vars", "B": "dev", "C": "dev", "N": 1}
    assert merged_vars(config, {"C": "flag", "D": "flag"}) == {
        "A": "vars",
        "B": "dev",
        "C": "flag",
        "D": "flag",
        "N": 1,
    }


# --- --var flags and persist dir ----------------------------------------------------------


def test_parse_var_flags_splits_at_first_colon() -> None:
    assert parse_var_flags([]) == {}
    assert parse_var_flags(["A:1", "URL:http://x:8080/p", "EMPTY:", "A:2"]) == {
        "A": "2",
        "URL": "http://x:8080/p",
        "EMPTY": "",
    }


@pytest.mark.parametrize("value", ["NOCOLON", ":value", ""])
def test_parse_var_flags_rejects_values_without_key(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_var_flags(["OK:1", value])
    assert str(info.value) == f"--var must be KEY:VALUE, found {json.dumps(value)}"


def test_default_persist_dir(project: Path) -> None:
    write(project, "sub/worker.py", "")
    write(project, "sub/wrangler.toml", MINIMAL)
    config = load_config(project / "sub" / "wrangler.toml")
    assert default_persist_dir(config) == project / "sub" / ".workerlab" / "state"


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        (
            "wrangler.toml",
            b'name = "w"\nmain = "worker.py"\n[vars]\nA = "caf\xe9"\n',
            "TOML at line 4, column 9",
        ),
        ("wrangler.json", b'{"name": "w",\n  "main": "\xff"}', "JSON at line 2, column 12"),
    ],
)
def test_a_file_that_is_not_utf8_names_the_line_and_column(
    project: Path, name: str, data: bytes, where: str
) -> None:
    (project / name).write_bytes(data)
    with pytest.raises(ConfigError) as raised:
        load_config(project / name)
    assert str(raised.value).startswith(f"{name}: invalid {where}: the file must be UTF-8, but byte 0x")


def test_a_utf8_byte_order_mark_is_allowed(project: Path) -> None:
    (project / "wrangler.toml").write_bytes(
        b"\xef\xbb\xbf" + MINIMAL.encode() + b'[vars]\nA = "caf\xc3\xa9"\n'
    )
    config = load_config(project / "wrangler.toml")
    assert [(v.binding, v.value) for v in config.bindings_of(Var)] == [("A", "café")]
