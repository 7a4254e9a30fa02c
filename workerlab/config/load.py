"""wrangler.toml / wrangler.json(c) -> a validated :class:`WorkerConfig`.

``load_config`` reads a config file the way wrangler does (TOML, or JSON with comments and
trailing commas), overlays ``[env.NAME]`` with wrangler's inheritance rules and validates every
key against Cloudflare's limits. The binding sections are read by their binding kinds
(:mod:`workerlab.bindings.registry`). Every problem is a ``ConfigError`` that names the file, the
key (or line), what was expected and what was found.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import ConfigError
from .files import display_path, parse_json, parse_toml, read_text
from .schema import BindingSpec, Migration, QueueConsumer, Var, WorkerConfig
from .source import MISSING, ConfigSource, join, keys

logger = logging.getLogger("workerlab")

#: Config file names, in wrangler's discovery order.
CONFIG_FILE_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")
#: Default persist directory, relative to the config file's folder.
DEFAULT_PERSIST_SUBDIR = Path(".workerlab") / "state"

# Read by workerlab and inherited by [env.NAME]; the binding sections (and vars) are not inherited.
_INHERITED_KEYS = keys("name main compatibility_date compatibility_flags triggers migrations")
_NOT_INHERITED_KEYS = keys("queues")
# wrangler's other keys: valid, but nothing for workerlab to do with them locally.
_UNUSED_ENV_KEYS = keys(
    """account_id workers_dev preview_urls routes route tsconfig jsx_factory jsx_fragment rules build
    no_bundle minify keep_names node_compat first_party_worker zone_id logfwdr logpush
    upload_source_maps placement observability compliance_region find_additional_modules
    preserve_file_names base_dir usage_model limits python_modules define cloudchamber
    containers tail_consumers streaming_tail_consumers unsafe unsafe_hello_world secrets
    constellation"""
)
_TOP_LEVEL_ONLY_KEYS = keys(
    """$schema legacy_env send_metrics keep_vars dev site wasm_modules text_blobs data_blobs alias
    pages_build_output_dir env"""
)
_CONSUMER_KEYS = keys(
    """queue max_batch_size max_batch_timeout max_retries retry_delay dead_letter_queue
    max_concurrency type visibility_timeout_ms message_retention_period"""
)
_MIGRATION_KEYS = keys(
    "tag new_classes new_sqlite_classes renamed_classes deleted_classes transferred_classes"
)

# Consumer settings: wrangler key, QueueConsumer field, lowest, highest, default, integer only.
_CONSUMER_NUMBERS = (
    ("max_batch_size", "max_batch_size", limits.MIN_MAX_BATCH_SIZE, limits.MAX_MAX_BATCH_SIZE,
     limits.DEFAULT_MAX_BATCH_SIZE, True),
    ("max_batch_timeout", "max_batch_timeout_s", limits.MIN_MAX_BATCH_TIMEOUT_S,
     limits.MAX_MAX_BATCH_TIMEOUT_S, limits.DEFAULT_MAX_BATCH_TIMEOUT_S, False),
    ("max_retries", "max_retries", limits.MIN_MAX_RETRIES, limits.MAX_MAX_RETRIES,
     limits.DEFAULT_MAX_RETRIES, True),
    ("retry_delay", "retry_delay_s", limits.MIN_DELAY_S, limits.MAX_DELAY_S,
     limits.DEFAULT_RETRY_DELAY_S, True),
    ("max_concurrency", "max_concurrency", limits.MIN_MAX_CONCURRENCY, limits.MAX_MAX_CONCURRENCY,
     limits.DEFAULT_MAX_CONCURRENCY, True),
    ("visibility_timeout_ms", "visibility_timeout_ms", 0, limits.MAX_VISIBILITY_TIMEOUT_MS,
     limits.DEFAULT_VISIBILITY_TIMEOUT_MS, True),
    ("message_retention_period", "message_retention_period_s", limits.MIN_MESSAGE_RETENTION_PERIOD_S,
     limits.MAX_MESSAGE_RETENTION_PERIOD_S, limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S, True),
)  # fmt: skip
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# A config as seen by one environment: key -> (value, key path it came from).
_Layer = dict[str, tuple[Any, str]]


def discover_config(cwd: Path) -> Path:
    """The config file in ``cwd``: ``wrangler.json``, ``wrangler.jsonc``, then ``wrangler.toml``."""
    for name in CONFIG_FILE_NAMES:
        candidate = cwd / name
        if candidate.is_file():
            return candidate
    names = ", ".join(CONFIG_FILE_NAMES[:-1]) + f" or {CONFIG_FILE_NAMES[-1]}"
    raise ConfigError(f"{cwd}: no config file found: expected {names} in this folder (or pass -c CONFIG)")


def default_persist_dir(config: WorkerConfig) -> Path:
    """``<config folder>/.workerlab/state``: where state lives unless ``--persist-to`` says otherwise."""
    return config.root / DEFAULT_PERSIST_SUBDIR


def load_config(
    path: Path | None = None, *, env: str | None = None, cwd: Path | None = None, env_optional: bool = False
) -> WorkerConfig:
    """Read, overlay ``[env.NAME]`` onto and validate a wrangler config file.

    ``path`` defaults to the file ``discover_config`` finds in ``cwd`` (the current folder when
    None); a relative ``path`` is relative to ``cwd``. With ``env_optional`` (the other workers of
    a session, as wrangler treats them) a config without ``[env.NAME]`` is read at its top level,
    with a warning, instead of being an error.
    """
    from ..bindings.registry import SECTIONS

    base = (cwd or Path.cwd()).absolute()
    path = discover_config(base) if path is None else base / path
    display = display_path(path, base)
    fmt = "TOML" if path.suffix == ".toml" else "JSON" if path.suffix in (".json", ".jsonc") else None
    if fmt is None:
        raise ConfigError(f"{display}: config file must end in .toml, .json or .jsonc, found {path.suffix!r}")
    try:
        text = read_text(path, display, fmt)
    except FileNotFoundError:
        raise ConfigError(f"{display}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read the config file: {exc}") from None
    src = ConfigSource(path.absolute(), display, fmt)
    raw = parse_toml(text, display) if fmt == "TOML" else parse_json(text, display)
    if not isinstance(raw, dict):
        raise src.error("the top level", src.a_table, raw)
    binding_keys = frozenset(section.partition(".")[0] for section, _ in SECTIONS)
    known = _INHERITED_KEYS | _NOT_INHERITED_KEYS | binding_keys | _UNUSED_ENV_KEYS | _TOP_LEVEL_ONLY_KEYS
    src.check_keys(raw, "", known)
    environments = raw.get("env")
    if env and env_optional and not (isinstance(environments, dict) and env in environments):
        logger.warning("%s: no [env.%s] section; using its top-level settings", display, env)
        env = None
    layer = _select_env(src, raw, env or None, _NOT_INHERITED_KEYS | binding_keys, known)
    return _build(src, layer, env or None, _UNUSED_ENV_KEYS)


def load_configs(
    paths: Sequence[Path | None], *, env: str | None = None, cwd: Path | None = None
) -> list[WorkerConfig]:
    """The configs of workers loaded together (see :func:`load_config`): the first is the primary;
    ``[env.NAME]`` is optional for the others, as wrangler treats them."""
    return [load_config(path, env=env, cwd=cwd, env_optional=index > 0) for index, path in enumerate(paths)]


def _select_env(
    src: ConfigSource,
    raw: dict[str, Any],
    env: str | None,
    not_inherited: frozenset[str],
    known: frozenset[str],
) -> _Layer:
    top: _Layer = {key: (value, key) for key, value in raw.items()}
    top["name"] = (src.string(raw, "name", "", default=src.path.parent.name), "name")
    environments = src.table_at(raw.get("env", MISSING), "env")
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
    src.check_keys(section, prefix, known)
    layer: _Layer = {key: top[key] for key in _INHERITED_KEYS if key in top}
    layer["name"] = (f"{top['name'][0]}-{env}", "name")  # wrangler: <top-level name>-<env>
    for key in _INHERITED_KEYS | not_inherited:
        if key in section:
            layer[key] = (section[key], f"{prefix}.{key}")
        elif key in not_inherited and key in raw:
            logger.warning(
                "%s: %s exists at the top level but not in [%s]; it is not inherited, so %s has none",
                src.display,
                key,
                prefix,
                prefix,
            )
    # Keys workerlab ignores are kept for `workerlab check`, from the environment or the top level.
    for key, value in section.items():
        layer.setdefault(key, (value, f"{prefix}.{key}"))
    return layer


def _build(src: ConfigSource, layer: _Layer, env: str | None, ignored: frozenset[str]) -> WorkerConfig:
    def get(key: str) -> tuple[Any, str]:
        return layer.get(key, (MISSING, key))

    name_value, name_key = get("name")
    if not isinstance(name_value, str) or not name_value:
        raise src.error(name_key, "a non-empty string", name_value)
    triggers, triggers_key = get("triggers")
    triggers = src.table_at(triggers, triggers_key)
    src.check_keys(triggers, triggers_key, frozenset({"crons"}))
    queues, queues_key = get("queues")
    queues = src.table_at(queues, queues_key)
    src.check_keys(queues, queues_key, frozenset({"producers", "consumers"}))
    consumers = _consumers(src, queues.get("consumers", MISSING), join(queues_key, "consumers"))
    return WorkerConfig(
        path=src.path,
        name=name_value,
        main=_main(src, *get("main")),
        compatibility_date=_compatibility_date(src, *get("compatibility_date")),
        env_name=env,
        bindings=_bindings(src, layer),
        consumers=consumers,
        crons=_crons(src, triggers.get("crons", MISSING), join(triggers_key, "crons")),
        compatibility_flags=src.strings(*get("compatibility_flags")),
        migrations=_migrations(src, *get("migrations")),
        ignored_keys=tuple(path for key, (_, path) in layer.items() if key in ignored),
    )


def _bindings(src: ConfigSource, layer: _Layer) -> tuple[BindingSpec, ...]:
    """Every binding, read by its kind, in kind order; each name in ``env`` belongs to one of them."""
    from ..bindings.registry import SECTIONS, kind

    specs: list[BindingSpec] = []
    claimed: dict[str, str] = {}
    for section, _ in SECTIONS:
        top, _, inner = section.partition(".")
        if top not in layer:
            continue
        value, key = layer[top]
        if inner:
            value = src.table_at(value, key).get(inner, MISSING)
            key = join(key, inner)
        for spec, where in kind(section).parse(src, value, key):
            name_key = where if isinstance(spec, Var) else f"{where}.binding"
            if not spec.binding:  # served, not on env (an [assets] table without a binding)
                specs.append(spec)
                continue
            if spec.binding in claimed:
                raise src.error(
                    name_key,
                    "a name no other binding or var uses",
                    spec.binding,
                    f"{claimed[spec.binding]} uses it too",
                )
            claimed[spec.binding] = name_key
            specs.append(spec)
    return tuple(specs)


def _main(src: ConfigSource, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value.endswith(".py"):
        raise src.error(key, f"the path of the worker's .py module, relative to {src.display}", value)
    main = (src.root / value).resolve()
    if not main.is_file():
        raise src.error(key, "an existing .py file", value, f"no such file: {main}")
    return main


def _compatibility_date(src: ConfigSource, value: Any, key: str) -> str | None:
    if value is MISSING:
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


def _crons(src: ConfigSource, value: Any, key: str) -> tuple[str, ...]:
    crons = src.strings(value, key)
    if not crons:
        return crons
    from ..cron import validate_cron

    for index, expr in enumerate(crons):
        try:
            validate_cron(expr)
        except ValueError as exc:
            raise src.error(f"{key}[{index}]", "a valid five-field cron expression", expr, str(exc)) from None
    return crons


def _consumers(src: ConfigSource, value: Any, key: str) -> tuple[QueueConsumer, ...]:
    consumers: list[QueueConsumer] = []
    consumed: dict[str, str] = {}
    for item, item_key in src.entries(value, key, _CONSUMER_KEYS):
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
        if item.get("max_concurrency", MISSING) is None:  # wrangler: null means "autoscale"
            item = {name: setting for name, setting in item.items() if name != "max_concurrency"}
        numbers: dict[str, Any] = {
            field: src.number(item, name, item_key, low, high, default, whole=whole)
            for name, field, low, high, default, whole in _CONSUMER_NUMBERS
        }
        # An HTTP pull consumer ("http_pull") is kept for its settings; nothing is pushed to it.
        consumers.append(
            QueueConsumer(queue=queue, dead_letter_queue=dead_letter_queue, type=kind, **numbers)
        )
    return tuple(consumers)


def _migrations(src: ConfigSource, value: Any, key: str) -> tuple[Migration, ...]:
    return tuple(
        Migration(
            tag=src.string(item, "tag", at, default=f"v{index + 1}"),
            new_sqlite_classes=src.strings(
                item.get("new_sqlite_classes", MISSING), f"{at}.new_sqlite_classes"
            ),
            new_classes=src.strings(item.get("new_classes", MISSING), f"{at}.new_classes"),
        )
        for index, (item, at) in enumerate(src.entries(value, key, _MIGRATION_KEYS))
    )
