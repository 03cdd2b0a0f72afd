"""Where browser tests keep their screenshots: artifacts a person looks at after a run.

$FLEETMON_UI_SHOTS if set, else `build/ui-shots/` in the working tree (ignored by git). Not
under pytest's temporary directory: pytest keeps only its last three, and concurrent runs on
one machine rotate them away.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shots_dir() -> Path:
    """The screenshot directory, created if needed."""
    env = os.environ.get("FLEETMON_UI_SHOTS")
    path = Path(env) if env else ROOT / "build" / "ui-shots"
    path.mkdir(parents=True, exist_ok=True)
    return path
