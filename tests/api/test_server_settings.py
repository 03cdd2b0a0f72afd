"""Server and worker settings: unknown FLEETMON_* names refused (naming the closest known
one), no built-in signing key, one-line CLI errors from any directory."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from fleetmon_alerts.settings import KNOWN as WORKER_VARIABLES
from fleetmon_alerts.settings import NEAR_MISS, SettingsError
from fleetmon_alerts.settings import Settings as WorkerSettings
from fleetmon_api.settings import MissingSecretKey, Settings, known_variables, load
from fleetmon_db import envcheck
from tests.api.harness import SECRET, running_api
from tests.e2e import compose
from tests.support.servers import free_port

BIN = Path(sys.executable).parent
# The key settings.py shipped until the signing key became mandatory: anyone could read it.
OLD_PUBLIC_KEY = "fleetmon-embedded-insecure-secret-key"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
    return env | extra


def _fleetmon(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "fleetmon"), *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_unknown_server_variable_is_refused_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLEETMON_RATE_LIMIT_STORAGE", "redis://redis:6379/0")
    with pytest.raises(envcheck.UnknownVariable) as err:
        load()
    assert err.value.problems == [
        "FLEETMON_RATE_LIMIT_STORAGE is not a fleetmon setting "
        "(did you mean FLEETMON_RATE_LIMIT_STORAGE_URL?)"
    ]


def test_other_programs_variables_are_left_to_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLEETMON_SERVER_URL", "FLEETMON_SPOOL_DIR", "FLEETMON_ALERTS_INTERVAL",
                 "FLEETMON_PUBLIC_URL", "FLEETMON_ENROLL_TOKEN", "FLEETMON_TEST_PG"):  # fmt: skip
        monkeypatch.setenv(name, "x")
    load()


def test_cli_names_every_unknown_variable_and_exits_2(tmp_path: Path) -> None:
    env = _clean_env(FLEETMON_DATA_DIR=str(tmp_path), FLEETMON_DATABSE_URL="sqlite://",
                     FLEETMON_REDIS_URI="redis://x")  # fmt: skip
    out = _fleetmon("list-hosts", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "fleetmon: FLEETMON_DATABSE_URL is not a fleetmon setting "
        "(did you mean FLEETMON_DATABASE_URL?)",
        "fleetmon: FLEETMON_REDIS_URI is not a fleetmon setting (did you mean FLEETMON_REDIS_URL?)",
    ]


def test_worker_refuses_its_own_typos_and_leaves_the_apis_names() -> None:
    with pytest.raises(SettingsError, match=r"FLEETMON_ALERTS_INTERVL .*FLEETMON_ALERTS_INTERVAL"):
        WorkerSettings.from_env({"FLEETMON_ALERTS_INTERVL": "5"})
    with pytest.raises(SettingsError, match=r"did you mean FLEETMON_DATABASE_URL"):
        WorkerSettings.from_env({"FLEETMON_DATABSE_URL": "sqlite://"})
    # Every API setting (compose gives both processes one set) passes the worker.
    urls = {"FLEETMON_DATABASE_URL": "sqlite:///x.db", "FLEETMON_STORE_URL": "sqlite:///m.db"}
    WorkerSettings.from_env({name: "1" for name in known_variables()} | urls)


def test_no_api_setting_is_a_near_miss_of_a_worker_setting() -> None:
    """Otherwise the worker would refuse a variable the API reads."""
    for api_name in known_variables() - WORKER_VARIABLES:
        for worker_name in WORKER_VARIABLES:
            ratio = difflib.SequenceMatcher(None, api_name, worker_name).ratio()
            assert ratio < NEAR_MISS, (api_name, worker_name)


def test_there_is_no_built_in_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETMON_SECRET_KEY", raising=False)
    with pytest.raises(MissingSecretKey, match="FLEETMON_SECRET_KEY is not set"):
        Settings().signing_key()


def test_serve_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    """The Docker image's default command and environment (SQLite in the data dir): the
    image never runs with a known key. Loopback and a free port stand in for the image's
    0.0.0.0:8080, should it start after all."""
    command = compose.image_command()
    assert command[:2] == ["fleetmon", "serve"], command
    args = [{"0.0.0.0": "127.0.0.1", "8080": str(free_port())}.get(a, a) for a in command[1:]]
    env = _clean_env(**compose.image_env(tmp_path / "image"))
    assert "FLEETMON_SECRET_KEY" not in env
    out = _fleetmon(*args, env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("fleetmon: FLEETMON_SECRET_KEY is not set"), out.stderr
    assert len(out.stderr.splitlines()) == 1


def test_a_jwt_signed_with_the_old_public_key_is_refused(tmp_path: Path) -> None:
    """The attack of issue 15: mint an admin token with the key from settings.py."""
    db = f"sqlite:///{tmp_path / 'meta.db'}"
    with running_api(db, f"sqlite:///{tmp_path / 'points.db'}") as api:
        s = api.settings
        claims = {"sub": "admin", "role": "admin", "iss": s.jwt_issuer, "aud": s.jwt_audience,
                  "iat": int(time.time()), "exp": int(time.time()) + 600}  # fmt: skip
        for key, status in ((OLD_PUBLIC_KEY, 401), (SECRET, 200)):  # the same claims, signed
            token = jwt.encode(claims, key, algorithm="HS256")
            r = api.client.get("/api/v1/hosts", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == status, (key == SECRET, r.text)


def test_cli_from_another_directory_says_what_to_set_in_one_line(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _fleetmon("create-enroll-token", env=_clean_env(), cwd=elsewhere)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"fleetmon: no fleetmon database at {elsewhere}/data/fleetmon.db")
    assert "FLEETMON_DATA_DIR is not set" in lines[0]
    assert not (elsewhere / "data").exists()  # nothing created by a mistake


def test_cli_database_errors_are_one_line_with_the_password_hidden(tmp_path: Path) -> None:
    dead = f"postgresql+psycopg://fleetmon:s3cret-pw@127.0.0.1:{free_port()}/fleetmon"
    out = _fleetmon("list-hosts", env=_clean_env(FLEETMON_DATABASE_URL=dead), cwd=tmp_path)
    assert out.returncode == 1
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stderr.startswith("fleetmon: metadata database error at postgresql+psycopg://")
    assert "s3cret-pw" not in out.stderr
    fresh = tmp_path / "fresh.db"
    fresh.touch()  # exists, but never migrated
    out = _fleetmon("list-hosts", env=_clean_env(FLEETMON_DATABASE_URL=f"sqlite:///{fresh}"),
                    cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1
    assert "run `fleetmon migrate` first" in out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr
