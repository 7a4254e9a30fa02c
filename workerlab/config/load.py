"""wrangler.toml / wrangler.json(c) -> frozen, typed configuration.

``load_config`` reads a config file the way wrangler does (TOML, or JSON with comments and
trailing commas), overlays ``[env.NAME]`` with wrangler's inheritance rules and validates every
key against Cloudflare's limits. Every problem is a ``ConfigError`` that names the file, the key
(or line), what was expected and what was found. The other sources of ``env`` values (dev vars,
``--var`` flags) are read by :mod:`workerlab.envvars`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import limits
from .configfile import display_path, parse_json, parse_toml
from .errors import ConfigError

logger = logging.getLogger("workerlab")

#: Config file names, in wrangler's discovery order.
CONFIG_FILE_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")
#: Default persist directory, relative to the config file's folder.
DEFAULT_PERSIST_SUBDIR = Path(".workerlab") / "state"
#: Default D1 migrations folder, relative to the config file's folder (wrangler's default).
DEFAULT_MIGRATIONS_DIR = "migrations"


@dataclass(frozen=True)
class QueueProducer:
    """A ``[[queues.producers]]`` entry: ``env.<binding>`` sends to ``queue``."""

    binding: str
    queue: str
    delivery_delay_s: int = limits.DEFAULT_DELIVERY_DELAY_S


@dataclass(frozen=True)
class QueueConsumer:
    """A ``[[queues.consumers]]`` entry: the worker's ``queue`` handler consumes the queue ``queue``."""

    queue: str
    max_batch_size: int = limits.DEFAULT_MAX_BATCH_SIZE
    max_batch_timeout_s: float = limits.DEFAULT_MAX_BATCH_TIMEOUT_S
    max_retries: int = limits.DEFAULT_MAX_RETRIES
    retry_delay_s: int = limits.DEFAULT_RETRY_DELAY_S
    dead_letter_queue: str | None = None
    max_concurrency: int = limits.DEFAULT_MAX_CONCURRENCY


@dataclass(frozen=True)
class KVNamespace:
    """A ``[[kv_namespaces]]`` entry."""

    binding: str
    id: str | None = None


@dataclass(frozen=True)
class D1Database:
    """A ``[[d1_databases]]`` entry; ``migrations_dir`` is absolute once loaded."""

    binding: str
    database_name: str
    database_id: str | None = None
    migrations_dir: Path = Path(DEFAULT_MIGRATIONS_DIR)  # absolute once loaded


@dataclass(frozen=True)
class R2Bucket:
    """A ``[[r2_buckets]]`` entry."""

    binding: str
    bucket_name: str


@dataclass(frozen=True)
class WorkerConfig:
    """One worker's configuration, for one environment, validated and with defaults filled in."""

    path: Path  # the config file
    name: str
    main: Path  # absolute path of the worker's .py module
    compatibility_date: str | None = None
    env_name: str | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    producers: tuple[QueueProducer, ...] = ()
    consumers: tuple[QueueConsumer, ...] = ()
    crons: tuple[str, ...] = ()
    kv_namespaces: tuple[KVNamespace, ...] = ()
    d1_databases: tuple[D1Database, ...] = ()
    r2_buckets: tuple[R2Bucket, ...] = ()
    compatibility_flags: tuple[str, ...] = ()

    @property
    def queue_names(self) -> list[str]:
        """Every queue the config names: producers', consumers' and dead-letter queues, in that order."""
        names = [p.queue for p in self.producers] + [c.queue for c in self.consumers]
        names += [c.dead_letter_queue for c in self.consumers if c.dead_letter_queue]
        return list(dict.fromkeys(names))

    @property
    def root(self) -> Path:
        """The folder of the config file: relative paths are relative to it."""
        return self.path.parent


# --- Which keys exist ----------------------------------------------------------------


def _keys(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Read by workerlab; the first group is inherited by [env.NAME], the second is not.
_INHERITED_KEYS = frozenset({"name", "main", "compatibility_date", "compatibility_flags", "triggers"})
_NOT_INHERITED_KEYS = frozenset({"vars", "queues", "kv_namespaces", "d1_databases", "r2_buckets"})
# wrangler's other keys: valid, but nothing for workerlab to do with them locally.
_UNUSED_ENV_KEYS = _keys(
    """account_id workers_dev preview_urls routes route tsconfig jsx_factory jsx_fragment migrations
    rules build no_bundle minify keep_names node_compat first_party_worker zone_id logfwdr logpush
    upload_source_maps placement assets observability compliance_region find_additional_modules
    preserve_file_names base_dir usage_model limits python_modules define durable_objects workflows
    cloudchamber containers send_email vectorize hyperdrive services analytics_engine_datasets
    dispatch_namespaces mtls_certificates tail_consumers streaming_tail_consumers browser ai images
    media version_metadata unsafe pipelines secrets_store_secrets ratelimits worker_loaders
    vpc_services unsafe_hello_world secrets constellation"""
)
_TOP_LEVEL_ONLY_KEYS = _keys(
    """$schema legacy_env send_metrics keep_vars dev site wasm_modules text_blobs data_blobs alias
    pages_build_output_dir env"""
)
_PRODUCER_KEYS = frozenset({"binding", "queue", "delivery_delay", "remote"})
_CONSUMER_KEYS = _keys(
    """queue max_batch_size max_batch_timeout max_retries retry_delay dead_letter_queue
    max_concurrency type visibility_timeout_ms"""
)
_KV_KEYS = frozenset({"binding", "id", "preview_id", "remote", "experimental_remote"})
_D1_KEYS = _keys(
    """binding database_name database_id preview_database_id migrations_table migrations_dir
    database_internal_env remote experimental_remote"""
)
_R2_KEYS = frozenset(
    {"binding", "bucket_name", "preview_bucket_name", "jurisdiction", "remote", "experimental_remote"}
)

# Consumer settings: wrangler key, QueueConsumer field, lowest, highest, default, integer only.
_CONSUMER_NUMBERS = (
    (
        "max_batch_size",
        "max_batch_size",
        limits.MIN_MAX_BATCH_SIZE,
        limits.MAX_MAX_BATCH_SIZE,
        limits.DEFAULT_MAX_BATCH_SIZE,
        True,
    ),
    (
        "max_batch_timeout",
        "max_batch_timeout_s",
        limits.MIN_MAX_BATCH_TIMEOUT_S,
        limits.MAX_MAX_BATCH_TIMEOUT_S,
        limits.DEFAULT_MAX_BATCH_TIMEOUT_S,
        False,
    ),
    (
        "max_retries",
        "max_retries",
        limits.MIN_MAX_RETRIES,
        limits.MAX_MAX_RETRIES,
        limits.DEFAULT_MAX_RETRIES,
        True,
    ),
    (
        "retry_delay",
        "retry_delay_s",
        limits.MIN_DELAY_S,
        limits.MAX_DELAY_S,
        limits.DEFAULT_RETRY_DELAY_S,
        True,
    ),
    (
        "max_concurrency",
        "max_concurrency",
        limits.MIN_MAX_CONCURRENCY,
        limits.MAX_MAX_CONCURRENCY,
        limits.DEFAULT_MAX_CONCURRENCY,
        True,
    ),
)
_ALL_KEYS = _INHERITED_KEYS | _NOT_INHERITED_KEYS | _UNUSED_ENV_KEYS | _TOP_LEVEL_ONLY_KEYS

_MISSING: Any = object()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- Reading one file ----------------------------------------------------------------


class _Source:
    """One config file being read: says where things are and words errors the same way."""

    def __init__(self, path: Path, display: str, fmt: str) -> None:
        self.path = path
        self.display = display
        self.fmt = fmt
        self.table = "table" if fmt == "TOML" else "object"
        self.a_table = "a table" if fmt == "TOML" else "an object"

    def describe(self, value: Any) -> str:
        if value is _MISSING:
            return "nothing"
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, dict):
            return self.a_table
        if isinstance(value, list):
            return "an array"
        if isinstance(value, dt.date | dt.time):
            return f"the {type(value).__name__} {value.isoformat()}"
        return type(value).__name__

    def error(self, key: str, expected: str, found: Any, note: str = "") -> ConfigError:
        suffix = f" ({note})" if note else ""
        return ConfigError(f"{self.display}: {key} must be {expected}, found {self.describe(found)}{suffix}")

    def check_keys(self, table: Mapping[str, Any], prefix: str, known: frozenset[str]) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {_join(prefix, close[0])}?)" if close else ""
                logger.warning("%s: unknown key %s ignored%s", self.display, _join(prefix, key), hint)

    def table_at(self, value: Any, key: str) -> dict[str, Any]:
        if value is _MISSING:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, self.a_table, value)
        return value

    def tables_at(self, value: Any, key: str) -> list[tuple[dict[str, Any], str]]:
        """An array of tables, each with its key path (``queues.consumers[0]``)."""
        if value is _MISSING:
            return []
        expected = f"an array of {self.table}s" + (f" ([[{key}]])" if self.fmt == "TOML" else "")
        if not isinstance(value, list):
            raise self.error(key, expected, value)
        items = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", self.a_table, item)
            items.append((item, f"{key}[{index}]"))
        return items

    def string(self, table: Mapping[str, Any], name: str, prefix: str, default: Any = _MISSING) -> Any:
        value = table.get(name, _MISSING)
        if value is _MISSING and default is not _MISSING:
            return default
        if not isinstance(value, str) or not value:
            raise self.error(_join(prefix, name), "a non-empty string", value)
        return value

    def number(
        self,
        table: Mapping[str, Any],
        name: str,
        prefix: str,
        low: float,
        high: float,
        default: float,
        *,
        whole: bool = True,
    ) -> Any:
        """An int (``whole``) or a number of seconds from ``low`` to ``high``; bool is neither."""
        value = table.get(name, _MISSING)
        if value is _MISSING:
            return default
        kinds = int if whole else int | float
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            what = "an integer" if whole else "a number of seconds"
            raise self.error(_join(prefix, name), f"{what} from {_number(low)} to {_number(high)}", value)
        return value if whole else float(value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- Public API ----------------------------------------------------------------------


def discover_config(cwd: Path) -> Path:
    """The config file in ``cwd``: ``wrangler.json``, ``wrangler.jsonc``, then ``wrangler.toml``."""
    for name in CONFIG_FILE_NAMES:
        candidate = cwd / name
        if candidate.is_file():
            return candidate
    names = ", ".join(CONFIG_FILE_NAMES[:-1]) + f" or {CONFIG_FILE_NAMES[-1]}"
    raise ConfigError(f"{cwd}: no config file found: expected {names} in this folder (or pass -c CONFIG)")


def load_config(path: Path | None = None, *, env: str | None = None, cwd: Path | None = None) -> WorkerConfig:
    """Read, overlay ``[env.NAME]`` onto and validate a wrangler config file.

    ``path`` defaults to the file ``discover_config`` finds in ``cwd`` (the current folder when
    None); a relative ``path`` is relative to ``cwd``.
    """
    base = (cwd or Path.cwd()).absolute()
    path = discover_config(base) if path is None else base / path
    display = display_path(path, base)
    fmt = "TOML" if path.suffix == ".toml" else "JSON" if path.suffix in (".json", ".jsonc") else None
    if fmt is None:
        raise ConfigError(f"{display}: config file must end in .toml, .json or .jsonc, found {path.suffix!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{display}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display}: cannot read the config file: {exc}") from None
    src = _Source(path.absolute(), display, fmt)
    raw = parse_toml(text, display) if fmt == "TOML" else parse_json(text, display)
    if not isinstance(raw, dict):
        raise src.error("the top level", src.a_table, raw)
    src.check_keys(raw, "", _ALL_KEYS)
    layer = _select_env(src, raw, env or None)
    return _build(src, layer, env or None)


# A config as seen by one environment: key -> (value, key path it came from).
_Layer = dict[str, tuple[Any, str]]


def _select_env(src: _Source, raw: dict[str, Any], env: str | None) -> _Layer:
    top: _Layer = {key: (value, key) for key, value in raw.items()}
    top["name"] = (src.string(raw, "name", "", default=src.path.parent.name), "name")
    environments = src.table_at(raw.get("env", _MISSING), "env")
    if env is None:
        return top
    if env not in environments:
        defined = ", ".join(json.dumps(name) for name in sorted(environments)) or "none are defined"
        raise ConfigError(
            f'{src.display}: --env "{env}" must name an environment defined as [env.<name>], '
            f"found no [env.{env}] (environments: {defined})"
        )
    prefix = f"env.{env}"
    section = src.table_at(environments[env], prefix)
    for key in section:
        if key in _TOP_LEVEL_ONLY_KEYS:
            logger.warning("%s: %s.%s ignored: it is only valid at the top level", src.display, prefix, key)
    src.check_keys(section, prefix, _ALL_KEYS)
    layer: _Layer = {key: top[key] for key in _INHERITED_KEYS if key in top}
    layer["name"] = (f"{top['name'][0]}-{env}", "name")  # wrangler: <top-level name>-<env>
    for key in _INHERITED_KEYS | _NOT_INHERITED_KEYS:
        if key in section:
            layer[key] = (section[key], f"{prefix}.{key}")
        elif key in _NOT_INHERITED_KEYS and key in raw:
            logger.warning(
                "%s: %s exists at the top level but not in [%s]; it is not inherited, so %s has none",
                src.display,
                key,
                prefix,
                prefix,
            )
    return layer


def _build(src: _Source, layer: _Layer, env: str | None) -> WorkerConfig:
    def get(key: str) -> tuple[Any, str]:
        return layer.get(key, (_MISSING, key))

    name_value, name_key = get("name")
    if not isinstance(name_value, str) or not name_value:
        raise src.error(name_key, "a non-empty string", name_value)

    triggers, triggers_key = get("triggers")
    triggers = src.table_at(triggers, triggers_key)
    src.check_keys(triggers, triggers_key, frozenset({"crons"}))
    queues, queues_key = get("queues")
    queues = src.table_at(queues, queues_key)
    src.check_keys(queues, queues_key, frozenset({"producers", "consumers"}))

    config = WorkerConfig(
        path=src.path,
        name=name_value,
        main=_main(src, *get("main")),
        compatibility_date=_compatibility_date(src, *get("compatibility_date")),
        env_name=env,
        vars=_vars(src, *get("vars")),
        producers=_producers(src, queues.get("producers", _MISSING), _join(queues_key, "producers")),
        consumers=_consumers(src, queues.get("consumers", _MISSING), _join(queues_key, "consumers")),
        crons=_crons(src, triggers.get("crons", _MISSING), _join(triggers_key, "crons")),
        kv_namespaces=_kv_namespaces(src, *get("kv_namespaces")),
        d1_databases=_d1_databases(src, *get("d1_databases")),
        r2_buckets=_r2_buckets(src, *get("r2_buckets")),
        compatibility_flags=_string_list(src, *get("compatibility_flags")),
    )
    _check_unique_bindings(src, layer)
    return config


def _main(src: _Source, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value.endswith(".py"):
        raise src.error(key, f"the path of the worker's .py module, relative to {src.display}", value)
    main = (src.path.parent / value).resolve()
    if not main.is_file():
        raise src.error(key, "an existing .py file", value, f"no such file: {main}")
    return main


def _compatibility_date(src: _Source, value: Any, key: str) -> str | None:
    if value is _MISSING:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            dt.date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise src.error(key, "a date in the form YYYY-MM-DD", value)


def _string_list(src: _Source, value: Any, key: str) -> tuple[str, ...]:
    if value is _MISSING:
        return ()
    if not isinstance(value, list):
        raise src.error(key, "an array of strings", value)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise src.error(f"{key}[{index}]", "a string", item)
    return tuple(value)


def _vars(src: _Source, value: Any, key: str) -> dict[str, Any]:
    table = src.table_at(value, key)

    def check(item: Any, item_key: str) -> None:
        if isinstance(item, dict):
            for name, inner in item.items():
                check(inner, f"{item_key}.{name}")
        elif isinstance(item, list):
            for index, inner in enumerate(item):
                check(inner, f"{item_key}[{index}]")
        elif not isinstance(item, str | int | float):  # bool is an int
            raise src.error(item_key, f"a string, number, boolean, array or {src.table}", item)

    check(table, key)
    return dict(table)


def _crons(src: _Source, value: Any, key: str) -> tuple[str, ...]:
    crons = _string_list(src, value, key)
    if not crons:
        return crons
    from .cron import validate_cron

    for index, expr in enumerate(crons):
        try:
            validate_cron(expr)
        except ValueError as exc:
            raise src.error(f"{key}[{index}]", "a valid five-field cron expression", expr, str(exc)) from None
    return crons


def _producers(src: _Source, value: Any, key: str) -> tuple[QueueProducer, ...]:
    producers = []
    for item, item_key in src.tables_at(value, key):
        src.check_keys(item, item_key, _PRODUCER_KEYS)
        binding = src.string(item, "binding", item_key)
        producers.append(
            QueueProducer(
                binding=binding,
                queue=src.string(item, "queue", item_key, default=binding),
                delivery_delay_s=src.number(
                    item,
                    "delivery_delay",
                    item_key,
                    limits.MIN_DELAY_S,
                    limits.MAX_DELAY_S,
                    limits.DEFAULT_DELIVERY_DELAY_S,
                ),
            )
        )
    return tuple(producers)


def _consumers(src: _Source, value: Any, key: str) -> tuple[QueueConsumer, ...]:
    consumers: list[QueueConsumer] = []
    consumed: dict[str, str] = {}
    for item, item_key in src.tables_at(value, key):
        src.check_keys(item, item_key, _CONSUMER_KEYS)
        queue = src.string(item, "queue", item_key)
        if queue in consumed:
            raise src.error(
                f"{item_key}.queue",
                "a queue that has no other consumer",
                queue,
                f"{consumed[queue]} already consumes it",
            )
        consumed[queue] = item_key
        kind = src.string(item, "type", item_key, default="worker")
        if kind not in ("worker", "http_pull"):
            raise src.error(f"{item_key}.type", '"worker" or "http_pull"', kind)
        dead_letter_queue = src.string(item, "dead_letter_queue", item_key, default=None)
        if dead_letter_queue == queue:
            raise src.error(
                f"{item_key}.dead_letter_queue", f'a queue other than "{queue}" itself', dead_letter_queue
            )
        if item.get("max_concurrency", _MISSING) is None:  # wrangler: null means "autoscale"
            item = {key: value for key, value in item.items() if key != "max_concurrency"}
        numbers: dict[str, Any] = {
            field: src.number(item, key, item_key, low, high, default, whole=whole)
            for key, field, low, high, default, whole in _CONSUMER_NUMBERS
        }
        consumer = QueueConsumer(queue=queue, dead_letter_queue=dead_letter_queue, **numbers)
        # An HTTP pull consumer is not this worker: its messages wait to be pulled, as unconsumed.
        if kind == "worker":
            consumers.append(consumer)
    return tuple(consumers)


def _kv_namespaces(src: _Source, value: Any, key: str) -> tuple[KVNamespace, ...]:
    namespaces = []
    for item, item_key in src.tables_at(value, key):
        src.check_keys(item, item_key, _KV_KEYS)
        namespaces.append(
            KVNamespace(
                binding=src.string(item, "binding", item_key), id=src.string(item, "id", item_key, None)
            )
        )
    return tuple(namespaces)


def _d1_databases(src: _Source, value: Any, key: str) -> tuple[D1Database, ...]:
    databases = []
    for item, item_key in src.tables_at(value, key):
        src.check_keys(item, item_key, _D1_KEYS)
        binding = src.string(item, "binding", item_key)
        database_id = src.string(item, "database_id", item_key, default=None)
        # wrangler accepts either name or id; without a name, the id names the local database.
        database_name = src.string(item, "database_name", item_key, default=database_id or _MISSING)
        migrations_dir = src.string(item, "migrations_dir", item_key, default=DEFAULT_MIGRATIONS_DIR)
        databases.append(
            D1Database(
                binding=binding,
                database_name=database_name,
                database_id=database_id,
                migrations_dir=(src.path.parent / migrations_dir).resolve(),
            )
        )
    return tuple(databases)


def _r2_buckets(src: _Source, value: Any, key: str) -> tuple[R2Bucket, ...]:
    buckets = []
    for item, item_key in src.tables_at(value, key):
        src.check_keys(item, item_key, _R2_KEYS)
        buckets.append(
            R2Bucket(
                binding=src.string(item, "binding", item_key),
                bucket_name=src.string(item, "bucket_name", item_key),
            )
        )
    return tuple(buckets)


def _check_unique_bindings(src: _Source, layer: _Layer) -> None:
    """Each name in ``env`` belongs to one var or binding (wrangler rejects duplicates too)."""
    seen: dict[str, str] = {}

    def claim(name: str, key: str) -> None:
        if name in seen:
            raise src.error(key, "a name no other binding or var uses", name, f"{seen[name]} uses it too")
        seen[name] = key

    vars_table, vars_key = layer.get("vars", ({}, "vars"))
    for name in vars_table:
        claim(name, f"{vars_key}.{name}")
    queues, queues_key = layer.get("queues", ({}, "queues"))
    sections = [(queues.get("producers", []), f"{queues_key}.producers")]
    sections += [layer[key] for key in ("kv_namespaces", "d1_databases", "r2_buckets") if key in layer]
    for items, key in sections:
        for index, item in enumerate(items):
            claim(item["binding"], f"{key}[{index}].binding")


def default_persist_dir(config: WorkerConfig) -> Path:
    """``<config folder>/.workerlab/state``: where state lives unless ``--persist-to`` says otherwise."""
    return config.root / DEFAULT_PERSIST_SUBDIR
