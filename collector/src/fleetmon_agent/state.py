"""The agent's state file (enrolled host key), written atomically with mode 0600."""

from __future__ import annotations

import json
import os
from typing import Any


def read_state(path: str) -> dict[str, Any]:
    """The state file's contents, or {} when it does not exist."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    return doc if isinstance(doc, dict) else {}


def write_state(path: str, doc: dict[str, Any]) -> None:
    """Replace the state file; the key never exists on disk with a looser mode."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(doc, indent=2).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
