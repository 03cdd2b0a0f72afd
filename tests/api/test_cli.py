"""The `fleetmon` admin CLI as a real process: scriptable output, nothing secret leaked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.harness import running_api

FLEETMON = str(Path(sys.executable).parent / "fleetmon")


def _run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLEETMON, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_cli_admin_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'meta.db'}"
    env = dict(os.environ, FLEETMON_DATABASE_URL=db, FLEETMON_DATA_DIR=str(tmp_path),
               FLEETMON_STORE_URL=f"sqlite:///{tmp_path / 'metrics.db'}")  # fmt: skip
    env.pop("FLEETMON_SECRET_KEY", None)
    assert _run(env, "migrate").returncode == 0

    made = _run(env, "create-user", "ops", "--role", "admin", "--password-stdin",
                stdin="a-long-password\n")  # fmt: skip
    assert (made.returncode, made.stdout) == (0, "")

    tok = _run(env, "create-enroll-token", "--uses", "1", "--label", "env=lab")
    assert tok.returncode == 0
    token = tok.stdout.strip()
    assert token.startswith("fme_")
    assert tok.stdout == token + "\n"

    with running_api(db, f"sqlite:///{tmp_path / 'metrics.db'}", migrate_users=False) as api:
        r = httpx.post(f"{api.url}/api/v1/hosts/enroll", json={"token": token, "name": "cli-1"})
        assert r.status_code == 201
        old_key = r.json()["api_key"]
        login = httpx.post(f"{api.url}/api/v1/auth/token",
                           data={"username": "ops", "password": "a-long-password"})  # fmt: skip
        assert login.status_code == 200

    listed = _run(env, "list-hosts")
    assert listed.stdout.startswith("cli-1\tdown\tnever\t-")
    rotated = _run(env, "rotate-key", "cli-1", "--overlap", "0")
    new_key = rotated.stdout.strip()
    assert new_key.startswith("fm_")
    assert new_key != old_key

    bad = dict(env, FLEETMON_MAX_POINTS="-1")
    out = _run(bad, "list-hosts")
    assert out.returncode == 2
    assert "invalid setting max_points" in out.stderr
