"""Agent configuration: YAML file, `${VAR}` substitution, FLEETMON_* overrides, validation."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any, Callable

from fleetmon_agent.collectors import BY_NAME, REGISTRY, CollectorOptions

DEFAULT_PATH = "/etc/fleetmon/agent.yaml"
ENV_PREFIX = "FLEETMON_"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.I)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_DURATION_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class ConfigError(ValueError):
    """The configuration is invalid; the message names every bad key, its value and the rule."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# --- value parsers: each returns the parsed value or raises ValueError(<what is allowed>) ---

Parser = Callable[[Any], Any]


def _num(lo: float, hi: float, what: str = "a number") -> Parser:
    def parse(v: Any) -> float:
        if isinstance(v, bool):
            raise ValueError(f"must be {what} between {lo:g} and {hi:g}")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"must be {what} between {lo:g} and {hi:g}") from None
        if not lo <= f <= hi:
            raise ValueError(f"must be {what} between {lo:g} and {hi:g}")
        return f

    return parse


def _int(lo: int, hi: int) -> Parser:
    def parse(v: Any) -> int:
        msg = f"must be an integer between {lo} and {hi}"
        if isinstance(v, bool):
            raise ValueError(msg)
        try:
            i = int(str(v).strip())
        except ValueError:
            raise ValueError(msg) from None
        if not lo <= i <= hi:
            raise ValueError(msg)
        return i

    return parse


def _duration(lo: float, hi: float) -> Parser:
    msg = f"must be a duration between {lo:g}s and {hi:g}s (e.g. 5, 30s, 15m, 24h)"

    def parse(v: Any) -> float:
        if isinstance(v, bool):
            raise ValueError(msg)
        m = _DURATION.match(str(v))
        if not m:
            raise ValueError(msg)
        f = float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "").lower()]
        if not lo <= f <= hi:
            raise ValueError(msg)
        return f

    return parse


def _size(lo: int, hi: int) -> Parser:
    msg = f"must be a size between {lo} and {hi} bytes (e.g. 1048576, 100MB, 1GiB)"

    def parse(v: Any) -> int:
        if isinstance(v, bool):
            raise ValueError(msg)
        m = _SIZE.match(str(v))
        if not m:
            raise ValueError(msg)
        unit = (m.group(2) or "").lower()
        mult = _SIZE_UNITS[unit[:1]] if unit else 1
        if "i" in unit:
            mult = 1024 ** "bkmgt".index(unit[0])
        n = int(float(m.group(1)) * mult)
        if not lo <= n <= hi:
            raise ValueError(msg)
        return n

    return parse


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("true", "yes", "on", "1"):
        return True
    if s in ("false", "no", "off", "0"):
        return False
    raise ValueError("must be true or false")


def _str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        raise ValueError("must be a string")
    return str(v)


def _url(v: Any) -> str:
    s = _str(v).rstrip("/")
    if s and not re.match(r"^https?://[^/\s]+", s):
        raise ValueError("must be an http:// or https:// URL")
    return s


def _choice(*choices: str) -> Parser:
    def parse(v: Any) -> str:
        s = _str(v).strip().lower()
        if s not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return s

    return parse


def _str_list(v: Any) -> list[str]:
    if isinstance(v, str):  # from the environment: comma-separated
        return [s.strip() for s in v.split(",") if s.strip()]
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise ValueError("must be a list of strings")
    return list(v)


SCHEMA: dict[str, dict[str, tuple[Any, Parser]]] = {
    "server": {
        "url": ("", _url),
        "api_key": ("", _str),
        "state_file": ("", _str),
        "ca_bundle": ("", _str),
        "insecure": (False, _bool),
        "timeout": (10.0, _duration(0.1, 300)),
        "retry_initial": (1.0, _duration(0.01, 600)),
        "retry_max": (60.0, _duration(0.01, 3600)),
    },
    "spool": {
        "dir": ("/var/lib/fleetmon-agent/spool", _str),
        "max_bytes": (100 * 10**6, _size(10**4, 10**12)),
        "max_age": (86400.0, _duration(60, 30 * 86400)),
    },
    "batch": {
        "max_points": (5000, _int(1, 1_000_000)),
        "flush_interval": (5.0, _duration(0.1, 3600)),
        "max_request_points": (20000, _int(1, 1_000_000)),
        "fresh_share": (0.5, _num(0.0, 1.0, "a fraction")),
    },
    "limits": {
        "cpu_percent": (2.0, _num(0.01, 400, "a percentage of one core")),
        "rss_mb": (50.0, _num(5, 100000, "a number of megabytes")),
        "check_interval": (60.0, _duration(1, 3600)),
        "action": ("log", _choice("log", "disable_collectors", "stop")),
    },
    "exporter": {
        "enabled": (False, _bool),
        "address": ("127.0.0.1", _str),
        "port": (9100, _int(0, 65535)),
    },
    "log": {
        "level": ("info", _choice("debug", "info", "warning", "error")),
    },
}


class Config:
    """The validated configuration (sections as plain dicts, collectors typed)."""

    def __init__(
        self,
        server: dict[str, Any],
        spool: dict[str, Any],
        batch: dict[str, Any],
        limits: dict[str, Any],
        exporter: dict[str, Any],
        log: dict[str, Any],
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
        configured = str(self.server["state_file"])
        if configured:
            return configured
        return os.path.join(os.path.dirname(os.path.abspath(self.spool["dir"])), "state.json")


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Replace `${VAR}` and `${VAR:-default}`; an unset variable without default is an error."""
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
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


def _substitute_tree(node: Any, env: Mapping[str, str]) -> Any:
    # After parsing, so comments are left alone and a value can never inject YAML structure.
    if isinstance(node, str):
        return substitute(node, env)
    if isinstance(node, list):
        return [_substitute_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _substitute_tree(v, env) for k, v in node.items()}
    return node


def _env_overrides(raw: dict[str, Any], env: Mapping[str, str], errors: list[str]) -> None:
    """Apply FLEETMON_<SECTION>_<KEY>; other components' FLEETMON_* variables are not ours."""
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section == "collectors":
            name = next(
                (n for n in sorted(BY_NAME, key=len, reverse=True) if key.startswith(n + "_")),
                None,
            )
            if name is None:
                errors.append(f"{var}: no collector named in it (known: {', '.join(BY_NAME)})")
                continue
            opt = key[len(name) + 1 :]
            coll = raw.setdefault("collectors", {})
            if not isinstance(coll, dict):
                continue
            entry = coll.setdefault(name, {})
            if isinstance(entry, dict):
                entry[opt] = env[var]
        elif section in SCHEMA and key in SCHEMA[section]:
            sec = raw.setdefault(section, {})
            if isinstance(sec, dict):
                sec[key] = env[var]


def _validate_section(
    section: str,
    given: Any,
    schema: Mapping[str, tuple[Any, Parser]],
    errors: list[str],
) -> dict[str, Any]:
    out = {k: copy.deepcopy(default) for k, (default, _) in schema.items()}
    if given is None:
        return out
    if not isinstance(given, dict):
        errors.append(f"{section} = {given!r}: must be a mapping")
        return out
    for key, value in given.items():
        if key not in schema:
            errors.append(
                f"{section}.{key} = {value!r}: unknown key (allowed: {', '.join(schema)})"
            )
            continue
        try:
            out[key] = schema[key][1](value)
        except ValueError as exc:
            shown = "***" if key == "api_key" else repr(value)
            errors.append(f"{section}.{key} = {shown}: {exc}")
    return out


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


def build(raw: dict[str, Any] | None, env: Mapping[str, str], source: str) -> Config:
    """Validate a parsed YAML document plus environment overrides into a Config."""
    errors: list[str] = []
    doc: dict[str, Any] = copy.deepcopy(raw) if raw else {}
    _env_overrides(doc, env, errors)
    for key in doc:
        if key not in SCHEMA and key != "collectors":
            errors.append(f"{key}: unknown section (allowed: {', '.join([*SCHEMA, 'collectors'])})")
    sections = {s: _validate_section(s, doc.get(s), SCHEMA[s], errors) for s in SCHEMA}
    collectors = _validate_collectors(doc.get("collectors"), errors)
    if sections["server"]["retry_max"] < sections["server"]["retry_initial"]:
        errors.append(
            f"server.retry_max = {sections['server']['retry_max']!r}: "
            "must not be below server.retry_initial"
        )
    if errors:
        raise ConfigError(errors)
    return Config(collectors=collectors, source=source, **sections)


def load(path: str | None, env: Mapping[str, str] | None = None) -> Config:
    """Read the YAML file (if it exists or was asked for), substitute, override, validate."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source = "<defaults>"
    chosen = path or env.get("FLEETMON_AGENT_CONFIG") or DEFAULT_PATH
    if path or os.path.exists(chosen):
        try:
            with open(chosen) as f:
                text = f.read()
        except OSError as exc:
            raise ConfigError([f"{chosen}: cannot read config file: {exc.strerror}"]) from None
        import yaml  # only when there is a file: environment-only setups never load it

        try:
            parsed = _substitute_tree(yaml.safe_load(text), env)
        except yaml.YAMLError as exc:
            raise ConfigError([f"{chosen}: not valid YAML: {exc}"]) from None
        if parsed is not None and not isinstance(parsed, dict):
            raise ConfigError([f"{chosen}: the top level must be a mapping of sections"])
        raw = parsed or {}
        source = chosen
    return build(raw, env, source)
