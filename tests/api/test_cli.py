"""The `fleetmon` admin CLI as a real process: scriptable output, nothing secret leaked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fleetmon_api import cli
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Host
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


def test_list_hosts_prints_no_terminal_escapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent chooses its version and (at enrollment) labels: a terminal escape in them
    must reach the admin's terminal as plain text (issue 15.6). In process: the command's
    output is the point, not the process."""
    db = f"sqlite:///{tmp_path / 'meta.db'}"
    monkeypatch.setenv("FLEETMON_DATABASE_URL", db)
    monkeypatch.setenv("FLEETMON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FLEETMON_STORE_URL", f"sqlite:///{tmp_path / 'metrics.db'}")
    migrate.upgrade(db)
    evil = "\x1b]0;owned\x07\x1b[2J\x1b[31mok\r\nfake-host\tup"
    engine = make_engine(db)
    try:
        with make_sessionmaker(engine)() as s:
            s.add(Host(name="esc-1", agent_version=f"1.0{evil}", labels={"role": evil}))
            s.commit()
    finally:
        engine.dispose()
    assert cli.main(["list-hosts"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # the CR/LF did not forge a second host line
    columns = lines[0].split("\t")
    assert columns[0] == "esc-1"
    assert len(columns) == 5  # the tab did not forge a column
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in lines[0].replace("\t", ""))
    assert "[31mok" in columns[3]  # shown, harmless, as text
    assert columns[4].startswith("role=")
