"""Embedded-mode defaults shared by every server process: everything under one data dir."""

from __future__ import annotations

from pathlib import Path

DEFAULT_DATA_DIR = Path("data")


def metadata_url(data_dir: Path) -> str:
    """SQLite URL of the metadata database inside `data_dir`."""
    return f"sqlite:///{(data_dir / 'fleetmon.db').resolve()}"


def store_url(data_dir: Path) -> str:
    """SQLite URL of the embedded time-series store inside `data_dir`."""
    return f"sqlite:///{(data_dir / 'metrics.db').resolve()}"


def is_embedded(url: str) -> bool:
    """True for URLs that need no server (SQLite)."""
    return url.startswith("sqlite")
