"""What the real agent emits on this machine, for tests that check consumers of it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def agent_once_batch() -> dict[str, Any]:
    """One full batch from `fleetmon-agent once` (every collector, sends nothing)."""
    out = subprocess.run(
        [sys.executable, "-m", "fleetmon_agent", "once"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    batch: dict[str, Any] = json.loads(out)
    return batch
