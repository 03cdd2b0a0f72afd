"""What the real agent emits on this machine, for tests that check consumers of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def agent_env(**settings: str) -> dict[str, str]:
    """This environment without other FLEETMON_* variables (the agent refuses variables that
    are not its settings), plus the agent's own `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
    env.update(settings)
    return env


def agent_once_batch() -> dict[str, Any]:
    """One full batch from `fleetmon-agent once` (every collector, sends nothing)."""
    out = subprocess.run(
        [sys.executable, "-m", "fleetmon_agent", "once"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=agent_env(),
    ).stdout
    batch: dict[str, Any] = json.loads(out)
    return batch
