"""FLEETMON_* environment variables: which program owns which names, and the check every
server process runs at start-up, so a misspelt variable is refused instead of ignored.

Every fleetmon program shares the FLEETMON_ prefix (one shell or one compose anchor often
holds the variables of several), so each program refuses only the unknown names in its own
part of the namespace and leaves the names other programs own to them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Mapping

PREFIX = "FLEETMON_"

# Read by the API server and the alert worker alike (compose hands both one set).
SHARED = frozenset(
    {"FLEETMON_DATABASE_URL", "FLEETMON_STORE_URL", "FLEETMON_DATA_DIR", "FLEETMON_PUBLIC_URL"}
)

# Names (exact, or a prefix ending in "_") that belong to a program other than the API
# server; the program named checks them itself.
FOREIGN: dict[str, tuple[str, ...]] = {
    "the alert worker (fleetmon-alerts)": ("FLEETMON_ALERTS_",),
    # FLEETMON_<SECTION>_<KEY> overrides of the agent's YAML, its config path, and the
    # variable its example YAML substitutes for the key.
    "the agent (fleetmon-agent)": (
        "FLEETMON_AGENT_CONFIG",
        "FLEETMON_API_KEY",
        "FLEETMON_SERVER_",
        "FLEETMON_SPOOL_",
        "FLEETMON_BATCH_",
        "FLEETMON_COLLECTORS_",
        "FLEETMON_LIMITS_",
        "FLEETMON_EXPORTER_",
        "FLEETMON_LOG_",
    ),
    "the agent installer (install.sh)": ("FLEETMON_ENROLL_TOKEN",),
    "Grafana's provisioning (dashboard/provisioning)": ("FLEETMON_INFLUX_", "FLEETMON_PG_"),
    "the test suite and benchmarks": ("FLEETMON_TEST_", "FLEETMON_BENCH_", "FLEETMON_UI_SHOTS"),
}


class UnknownVariable(ValueError):
    """FLEETMON_* variables that no setting reads; the message names the closest known ones."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def owned_by(name: str, patterns: Iterable[str]) -> bool:
    """True if `name` equals one of `patterns` or starts with one ending in "_"."""
    return any(name == p or (p.endswith("_") and name.startswith(p)) for p in patterns)


def foreign_owner(name: str) -> str | None:
    """The program (other than the API server) that reads `name`, if any."""
    for owner, patterns in FOREIGN.items():
        if owned_by(name, patterns):
            return owner
    return None


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like `name`, if any is reasonably close."""
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def describe(name: str, known: Collection[str]) -> str:
    """`NAME is not a fleetmon setting (did you mean X?)`: one problem, one line."""
    hint = closest(name, known)
    more = f" (did you mean {hint}?)" if hint else " (see docs/operations.md for the settings)"
    return f"{name} is not a fleetmon setting{more}"


def check(env: Mapping[str, str], known: Collection[str], mine: Callable[[str], bool]) -> None:
    """Raise UnknownVariable for each variable `mine` claims that is not in `known`.

    Names are compared upper-cased (settings read the environment case-insensitively).
    """
    known_upper = {k.upper() for k in known}
    problems = [
        describe(name, known_upper)
        for name in sorted({k.upper() for k in env})
        if name.startswith(PREFIX) and name not in known_upper and mine(name)
    ]
    if problems:
        raise UnknownVariable(problems)


def unowned(name: str) -> bool:
    """True for a FLEETMON_* name that no other program claims (the API server's part)."""
    return foreign_owner(name) is None
