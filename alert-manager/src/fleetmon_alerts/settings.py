"""The worker's one settings class, read from the environment with embedded defaults."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fleetmon_db import embedded, envcheck

NAMESPACE = "FLEETMON_ALERTS_"
# Every variable the worker reads.
KNOWN = envcheck.SHARED | {
    f"{NAMESPACE}INTERVAL",
    f"{NAMESPACE}CHANNEL_TIMEOUT",
    f"{NAMESPACE}RETRY_BASE",
}
# Outside its namespace the worker refuses only near-misses of its own names (the other
# FLEETMON_* names, the API server's among them, are checked by the programs that read them).
NEAR_MISS = 0.9


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable and the value."""


def _mine(name: str) -> bool:
    if name.startswith(NAMESPACE):
        return True
    if not envcheck.unowned(name):
        return False
    return any(difflib.SequenceMatcher(None, name, k).ratio() >= NEAR_MISS for k in KNOWN)


def check_names(env: Mapping[str, str]) -> None:
    """Raise SettingsError naming each FLEETMON_* variable that looks meant for the worker
    but is not one of its settings (and the closest one that is)."""
    try:
        envcheck.check(env, KNOWN, _mine)
    except envcheck.UnknownVariable as exc:
        raise SettingsError("; ".join(exc.problems)) from None


def _float(env: Mapping[str, str], key: str, default: float, minimum: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{key}={raw!r} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    """Where the metadata and the points live, how often to evaluate, how to link to hosts."""

    database_url: str
    store_url: str
    data_dir: Path
    interval_s: float = 15.0
    public_url: str = "http://127.0.0.1:8000"
    # Per-request timeout of every channel; a slow channel must never hold the loop.
    channel_timeout_s: float = 10.0
    # First retry delay; doubles per attempt up to `retry_max_s`.
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0
    max_attempts: int = 8

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read FLEETMON_* variables; embedded SQLite defaults under FLEETMON_DATA_DIR."""
        env = os.environ if env is None else env
        check_names(env)
        data_dir = Path(env.get("FLEETMON_DATA_DIR") or embedded.DEFAULT_DATA_DIR)
        return cls(
            database_url=env.get("FLEETMON_DATABASE_URL") or embedded.metadata_url(data_dir),
            store_url=env.get("FLEETMON_STORE_URL") or embedded.store_url(data_dir),
            data_dir=data_dir,
            interval_s=_float(env, "FLEETMON_ALERTS_INTERVAL", 15.0, 0.05),
            public_url=(env.get("FLEETMON_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            channel_timeout_s=_float(env, "FLEETMON_ALERTS_CHANNEL_TIMEOUT", 10.0, 0.1),
            retry_base_s=_float(env, "FLEETMON_ALERTS_RETRY_BASE", 2.0, 0.01),
        )
