"""`pip install ./collector` on Python 3.9 pulls only the four dependencies and runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

PY39 = Path("/root/.pyenv/versions/3.9.18/bin/python")
COLLECTOR = Path(__file__).resolve().parents[2] / "collector"
ALLOWED = {
    "fleetmon-agent",
    "psutil",
    "requests",
    "schedule",
    "pyyaml",
    # and theirs:
    "urllib3",
    "idna",
    "certifi",
    "charset-normalizer",
    # the venv's own tools:
    "pip",
    "setuptools",
    "wheel",
}


@pytest.mark.slow
def test_agent_installs_and_runs_on_python_39(tmp_path: Path) -> None:
    assert PY39.exists(), f"{PY39} is missing: the 3.9 promise cannot be checked"
    venv = tmp_path / "venv"
    # No ensurepip inside the venv (slow): the interpreter's own pip installs into it.
    subprocess.run([str(PY39), "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [str(PY39), "-m", "pip", "--python", str(venv / "bin" / "python")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETMON_", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run(
        [*pip, "install", "-q", "--no-compile", str(COLLECTOR)], check=True, env=env, timeout=240
    )
    listed = subprocess.run(
        [*pip, "list", "--format", "json"], check=True, env=env, capture_output=True, text=True
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert names <= ALLOWED, f"unexpected packages: {sorted(names - ALLOWED)}"
    env["FLEETMON_SPOOL_DIR"] = str(tmp_path / "spool")
    out = subprocess.run(
        [str(venv / "bin" / "fleetmon-agent"), "once"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    body = json.loads(out.stdout)
    assert {"cpu", "mem", "procstat"} <= {p["measurement"] for p in body["points"]}
