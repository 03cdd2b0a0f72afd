"""The example config, generated from the declarations (`fleetmon-agent example-config`).

collector/agent.example.yaml is this text; a test keeps the two equal, so every key, its
default and its doc come from one place: the section classes in config.py and each
collector's options.
"""

from __future__ import annotations

from fleetmon_agent.collectors import REGISTRY
from fleetmon_agent.config import SECTIONS
from fleetmon_agent.options import Options

HEADER = """\
# fleetmon-agent configuration. Every key is shown with its default.
# ${VAR} and ${VAR:-default} are replaced from the environment; any key can also be
# overridden as FLEETMON_<SECTION>_<KEY>, e.g. FLEETMON_SERVER_URL, FLEETMON_SPOOL_DIR,
# FLEETMON_COLLECTORS_CPU_INTERVAL (a FLEETMON_* variable that sets nothing is an error).
# Durations: 5, 30s, 15m, 24h. Sizes: 1048576, 100MB, 1GiB. Lists from the environment:
# comma-separated. Check a file with: fleetmon-agent -c /etc/fleetmon/agent.yaml check-config
# Generated from the declarations by `fleetmon-agent example-config`.
"""
COMMENT_AT = 40
WIDTH = 96


def _line(indent: str, key: str, value: str, doc: str) -> list[str]:
    text = f"{indent}{key}:" + (f" {value}" if value else "")
    if len(text) + 2 + len(doc) + 2 <= WIDTH or not value.startswith("["):
        return [f"{text.ljust(COMMENT_AT - 1)} # {doc}" if doc else text]
    # A long list: its doc above it, its items wrapped under the opening bracket.
    lines = [f"{indent}# {doc}"]
    current = f"{indent}{key}: ["
    pad = " " * len(current)
    items = value[1:-1].split(", ")
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "]")
        if len(current) + len(piece) + 1 > WIDTH and not current.endswith("["):
            lines.append(current.rstrip())
            current = pad
        current += piece if current.endswith(("[", " ")) else " " + piece
    lines.append(current)
    return lines


def _options(indent: str, options: type[Options], skip: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    for name, opt in options.declared().items():
        if name not in skip:
            out.extend(_line(indent, name, opt.shown(), opt.doc))
    return out


def example_yaml() -> str:
    """The documented default configuration."""
    lines = [HEADER.rstrip("\n")]
    for section, options in SECTIONS.items():
        lines.append("")
        lines.extend(_line("", section, "", _doc(options)))
        lines.extend(_options("  ", options))
    lines.append("")
    lines.extend(_line("", "collectors", "", "each also has `enabled: true`"))
    for spec in REGISTRY:
        lines.extend(_line("  ", spec.name, "", spec.doc))
        lines.extend(_options("    ", spec.options, skip=("enabled",)))
    return "\n".join(lines) + "\n"


def _doc(options: type[Options]) -> str:
    return (options.__doc__ or "").strip().splitlines()[0].rstrip(".")
