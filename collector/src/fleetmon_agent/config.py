"""Agent configuration: YAML file, `${VAR}` substitution, FLEETMON_* overrides, validation.

One `Options` class per YAML section declares its keys (type, default, doc); collectors
declare their own options in their modules. Environment variables override the file as
FLEETMON_<SECTION>_<KEY> (FLEETMON_COLLECTORS_<NAME>_<KEY> for collectors); a FLEETMON_*
variable that names no setting is an error that names the closest one, so a typo never
silently leaves a default in place.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any

from fleetmon_agent.collectors import BY_NAME, REGISTRY, CollectorOptions
from fleetmon_agent.options import (
    Boolean,
    Choice,
    Duration,
    Integer,
    Number,
    Option,
    Options,
    Size,
    Text,
    Url,
)

DEFAULT_PATH = "/etc/fleetmon/agent.yaml"
ENV_PREFIX = "FLEETMON_"
CONFIG_ENV = "FLEETMON_AGENT_CONFIG"  # the config file's path, when -c is not given
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """The configuration is invalid; the message names every bad key, its value and the rule."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class ServerConfig(Options):
    """Where the agent sends, with which key, and how it retries."""

    url = Option("", Url(), "the fleetmon API (no default)", example="https://fleetmon.example.com")
    api_key = Option("", Text(), "empty: the key `fleetmon-agent enroll` stored", secret=True)
    state_file = Option("", Text(), "empty: state.json next to spool.dir")
    ca_bundle = Option("", Text(), "PEM file to verify the server with (default: system CAs)")
    insecure = Option(False, Boolean(), "true disables TLS verification: only for tests")
    timeout = Option(10.0, Duration(0.1, 300), "per request")
    retry_initial = Option(1.0, Duration(0.01, 600), "first backoff step (exponential, jitter)")
    retry_max = Option(60.0, Duration(0.01, 3600), "backoff ceiling (Retry-After wins)")


class SpoolConfig(Options):
    """Batches waiting to be sent, on disk."""

    dir = Option(
        "/var/lib/fleetmon-agent/spool", Text(), "must be writable: else the agent won't start"
    )
    max_bytes = Option(100 * 10**6, Size(10**4, 10**12), "oldest batches dropped (and counted)")
    max_age = Option(86400.0, Duration(60, 30 * 86400), "... or beyond this age")


class BatchConfig(Options):
    """How points are grouped into requests."""

    max_points = Option(5000, Integer(1, 1_000_000), "flush the in-memory batch at this many")
    flush_interval = Option(5.0, Duration(0.1, 3600), "... or this often")
    max_request_points = Option(
        20000, Integer(1, 1_000_000), "replay merges spooled batches up to this"
    )
    fresh_share = Option(
        0.5, Number(0.0, 1.0, "a fraction"), "share of replay requests with fresh data"
    )


class LimitsConfig(Options):
    """The agent watches its own CPU and memory."""

    cpu_percent = Option(
        2.0, Number(0.01, 400, "a percentage of one core"), "of one core, per check_interval"
    )
    rss_mb = Option(50.0, Number(5, 100000, "a number of megabytes"), "resident memory")
    check_interval = Option(60.0, Duration(1, 3600), "how often the limits are checked")
    action = Option(
        "log",
        Choice("log", "disable_collectors", "stop"),
        "log | disable_collectors (process scans first) | stop",
    )


class ExporterConfig(Options):
    """Optional pull mode: /metrics with node_exporter's metric names."""

    enabled = Option(False, Boolean(), "serve /metrics (push goes on as well)")
    address = Option("127.0.0.1", Text(), "0.0.0.0 to let a remote Prometheus scrape")
    # Not 9100: that is node_exporter's, which may run beside the agent; 9100-9999 are all
    # taken in Prometheus's list of default exporter ports, so one outside that range.
    port = Option(19100, Integer(0, 65535), "TCP port (node_exporter's 9100 plus 10000)")


class LogConfig(Options):
    """What the agent writes to stderr (the journal)."""

    level = Option("info", Choice("debug", "info", "warning", "error"), "the least severe shown")


SECTIONS: dict[str, type[Options]] = {
    "server": ServerConfig,
    "spool": SpoolConfig,
    "batch": BatchConfig,
    "limits": LimitsConfig,
    "exporter": ExporterConfig,
    "log": LogConfig,
}


class Config:
    """The validated configuration: one typed object per section, one per collector."""

    __slots__ = ("batch", "collectors", "exporter", "limits", "log", "server", "source", "spool")

    def __init__(
        self,
        server: ServerConfig,
        spool: SpoolConfig,
        batch: BatchConfig,
        limits: LimitsConfig,
        exporter: ExporterConfig,
        log: LogConfig,
        collectors: dict[str, CollectorOptions],
        source: str = "<defaults>",
    ) -> None:
        self.server, self.spool, self.batch = server, spool, batch
        self.limits, self.exporter, self.log = limits, exporter, log
        self.collectors = collectors
        self.source = source

    @property
    def state_file(self) -> str:
        """Where the enrolled API key lives: next to the spool unless configured."""
        if self.server.state_file:
            return self.server.state_file
        return os.path.join(os.path.dirname(os.path.abspath(self.spool.dir)), "state.json")


def env_settings() -> dict[str, tuple[str, ...]]:
    """Every FLEETMON_* variable that sets something, and the path of what it sets."""
    names: dict[str, tuple[str, ...]] = {}
    for section, cls in SECTIONS.items():
        for key in cls.declared():
            names[f"{ENV_PREFIX}{section}_{key}".upper()] = (section, key)
    for spec in REGISTRY:
        for key in spec.options.declared():
            names[f"{ENV_PREFIX}COLLECTORS_{spec.name}_{key}".upper()] = (
                "collectors",
                spec.name,
                key,
            )
    return names


def substitute(text: str, env: Mapping[str, str], used: set[str] | None = None) -> str:
    """Replace `${VAR}` and `${VAR:-default}`; an unset variable without default is an error.
    The names referenced are added to `used`."""
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if used is not None:
            used.add(name)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    out = _VAR.sub(repl, text)
    if missing:
        raise ConfigError(
            [f"${{{n}}}: environment variable is not set (use ${{{n}:-default}})" for n in missing]
        )
    return out


def _substitute_tree(node: Any, env: Mapping[str, str], used: set[str]) -> Any:
    # After parsing, so comments are left alone and a value can never inject YAML structure.
    if isinstance(node, str):
        return substitute(node, env, used)
    if isinstance(node, list):
        return [_substitute_tree(v, env, used) for v in node]
    if isinstance(node, dict):
        return {k: _substitute_tree(v, env, used) for k, v in node.items()}
    return node


def _closest(name: str, known: list[str]) -> str:
    import difflib  # only on the error path

    return (difflib.get_close_matches(name, known, n=1, cutoff=0.0) or [""])[0]


def _env_overrides(
    raw: dict[str, Any], env: Mapping[str, str], referenced: set[str], errors: list[str]
) -> None:
    """Apply FLEETMON_<SECTION>_<KEY>; refuse FLEETMON_* variables that set nothing."""
    settings = env_settings()
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        path = settings.get(var)
        if path is None:
            if var != CONFIG_ENV and var not in referenced:
                known = [*settings, CONFIG_ENV]
                errors.append(
                    f"{var}: not a setting of the agent (did you mean {_closest(var, known)}?)"
                )
            continue
        node: Any = raw
        for step in path[:-1]:
            if not isinstance(node, dict):
                break
            child = node.setdefault(step, {})
            if child is None:  # `cpu:` with nothing under it
                child = node[step] = {}
            node = child
        if isinstance(node, dict):
            node[path[-1]] = env[var]


def _validate_collectors(given: Any, errors: list[str]) -> dict[str, CollectorOptions]:
    """Each collector's options, parsed by the collector's own declaration."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        errors.append(f"collectors = {given!r}: must be a mapping of collector name to settings")
        given = {}
    for name in given:
        if name not in BY_NAME:
            errors.append(f"collectors.{name}: unknown collector (known: {', '.join(BY_NAME)})")
    return {
        spec.name: spec.options.parse(given.get(spec.name), f"collectors.{spec.name}", errors)
        for spec in REGISTRY
    }


def build(
    raw: dict[str, Any] | None,
    env: Mapping[str, str],
    source: str,
    referenced: set[str] | frozenset[str] = frozenset(),
) -> Config:
    """Validate a parsed YAML document plus environment overrides into a Config.
    `referenced`: variables the file uses as ${VAR} (they are not settings, yet not unknown)."""
    errors: list[str] = []
    doc: dict[str, Any] = copy.deepcopy(raw) if raw else {}
    _env_overrides(doc, env, set(referenced), errors)
    allowed = [*SECTIONS, "collectors"]
    for key in doc:
        if key not in allowed:
            errors.append(f"{key}: unknown section (allowed: {', '.join(allowed)})")
    config = Config(
        server=ServerConfig.parse(doc.get("server"), "server", errors),
        spool=SpoolConfig.parse(doc.get("spool"), "spool", errors),
        batch=BatchConfig.parse(doc.get("batch"), "batch", errors),
        limits=LimitsConfig.parse(doc.get("limits"), "limits", errors),
        exporter=ExporterConfig.parse(doc.get("exporter"), "exporter", errors),
        log=LogConfig.parse(doc.get("log"), "log", errors),
        collectors=_validate_collectors(doc.get("collectors"), errors),
        source=source,
    )
    if config.server.retry_max < config.server.retry_initial:
        errors.append(
            f"server.retry_max = {config.server.retry_max!r}: "
            "must not be below server.retry_initial"
        )
    if errors:
        raise ConfigError(errors)
    return config


def load(path: str | None, env: Mapping[str, str] | None = None) -> Config:
    """Read the YAML file (if it exists or was asked for), substitute, override, validate."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source = "<defaults>"
    referenced: set[str] = set()
    chosen = path or env.get(CONFIG_ENV) or DEFAULT_PATH
    if path or os.path.exists(chosen):
        try:
            with open(chosen) as f:
                text = f.read()
        except OSError as exc:
            raise ConfigError([f"{chosen}: cannot read config file: {exc.strerror}"]) from None
        import yaml  # only when there is a file: environment-only setups never load it

        try:
            parsed = _substitute_tree(yaml.safe_load(text), env, referenced)
        except yaml.YAMLError as exc:
            raise ConfigError([f"{chosen}: not valid YAML: {exc}"]) from None
        if parsed is not None and not isinstance(parsed, dict):
            raise ConfigError([f"{chosen}: the top level must be a mapping of sections"])
        raw = parsed or {}
        source = chosen
    return build(raw, env, source, referenced)
