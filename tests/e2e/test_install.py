"""The agent installed on a "clean server" in one command served by the fleetmon API: as root,
systemd absent, every path in a temp root, the API as the only package source, a Python that
lacks ensurepip (Debian/Ubuntu without python3-venv). Then it runs and reports, a second run
upgrades in place, and --uninstall removes it."""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleetmon_api.agentdist import FILES
from tests.api.harness import ApiServer, running_api
from tests.conftest import IN_CI
from tests.support.servers import stop_process

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
AGENT_USER = "nobody"  # exists everywhere; the installer neither creates nor removes it


def _uv() -> str | None:
    found = shutil.which("uv") or os.path.expanduser("~/.local/bin/uv")
    return found if os.path.exists(found) else None


@pytest.fixture(scope="session")
def agent_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/agent-dist.sh for the system Python on this machine (the full matrix is built
    at image build time)."""
    if os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON):
        why = "the install test runs as root with /usr/bin/python3"
        if IN_CI:
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    version = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    dest = tmp_path_factory.mktemp("agent-dist")
    uv = _uv()
    pip = f"{uv} tool run --from pip pip" if uv else f"{sys.executable} -m pip"
    subprocess.run(
        [str(ROOT / "deploy" / "agent-dist.sh"), str(dest), "--python", version,
         "--platform", f"manylinux2014_{platform.machine()}"],
        env=dict(os.environ, PIP=pip), check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return dest


@pytest.fixture
def server_root() -> Iterator[Path]:
    """The "server's" file system: a world-traversable temp dir (the agent runs as nobody)."""
    root = Path(tempfile.mkdtemp(prefix="fleetmon-install-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def api(tmp_path: Path, agent_dist: Path) -> Iterator[ApiServer]:
    db, points = f"sqlite:///{tmp_path / 'meta.db'}", f"sqlite:///{tmp_path / 'points.db'}"
    with running_api(db, points, agent_dist_dir=agent_dist) as server:
        yield server


def _python_without_ensurepip(root: Path, hide: tuple[str, ...] = ("ensurepip",)) -> str:
    """python3 as Debian ships it without python3-venv: `import ensurepip` fails."""
    shadow = root / "shadow"
    for module in hide:
        (shadow / module).mkdir(parents=True)
        (shadow / module / "__init__.py").write_text(f"raise ImportError('no {module} here')\n")
    wrapper = root / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={shadow} exec {SYSTEM_PYTHON} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _paths(root: Path) -> list[str]:
    return ["--prefix", str(root / "opt" / "fleetmon-agent"), "--config-dir", str(root / "etc"),
            "--state-dir", str(root / "var" / "fleetmon-agent"),
            "--unit-dir", str(root / "systemd"), "--user", AGENT_USER]  # fmt: skip


def _install(api: ApiServer, root: Path, *args: str, token: str | None = None,
             python: str = SYSTEM_PYTHON) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`curl -fsSL <api>/install.sh | sudo sh -s -- ...`, the script read from stdin."""
    script = httpx.get(f"{api.url}/install.sh")
    assert script.status_code == 200, script.text
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHON": python, "HOME": str(root)}
    if token is not None:
        env["FLEETMON_ENROLL_TOKEN"] = token
    return subprocess.run(
        ["sh", "-s", "--", *args], input=script.text, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def _token(api: ApiServer) -> str:
    r = api.client.post("/api/v1/enroll-tokens", json={"max_uses": 1}, headers=api.auth())
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def test_install_run_upgrade_uninstall(api: ApiServer, server_root: Path) -> None:
    python = _python_without_ensurepip(server_root)
    assert subprocess.run([python, "-m", "ensurepip", "--version"], capture_output=True,
                          check=False).returncode != 0  # fmt: skip
    token = _token(api)
    args = ["--url", api.url, *_paths(server_root), "--name", "clean-1", "--label", "env=lab"]
    done = _install(api, server_root, *args, token=token, python=python)
    assert done.returncode == 0, done.stdout + done.stderr
    assert token not in done.stdout + done.stderr
    # No systemd here: a clear fallback with the command to run under another supervisor.
    assert "systemd is not running here" in done.stdout
    run_line = next(line for line in done.stdout.splitlines() if line.strip().startswith("runuser"))
    state = server_root / "var" / "fleetmon-agent" / "state.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert state.stat().st_uid != 0  # owned by the agent's user
    key = json.loads(state.read_text())["api_key"]
    conf = (server_root / "etc" / "agent.yaml").read_text()
    assert f'url: "{api.url}"' in conf
    assert not (server_root / "systemd" / "fleetmon-agent.service").exists()

    # The printed command runs the agent; its data reaches the API.
    with (server_root / "agent.log").open("wb") as log:
        agent = subprocess.Popen(run_line.split(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, host = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            host = api.client.get("/api/v1/hosts/clean-1", headers=api.auth()).json()
            if host.get("last_seen"):
                break
            time.sleep(0.5)
        assert host.get("last_seen"), (server_root / "agent.log").read_text()
        assert host["labels"] == {"env": "lab"}
    finally:
        stop_process(agent)

    # The same command again (the used-up token still exported): an upgrade in place that
    # keeps the config and the key, with no enrollment.
    again = _install(api, server_root, *args, token=token, python=python)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "fleetmon-agent upgraded" in again.stdout
    assert json.loads(state.read_text())["api_key"] == key
    assert (server_root / "etc" / "agent.yaml").read_text() == conf

    gone = _install(api, server_root, "--uninstall", *_paths(server_root))
    assert gone.returncode == 0, gone.stderr
    for path in ("opt/fleetmon-agent", "var/fleetmon-agent", "etc/agent.yaml"):
        assert not (server_root / path).exists(), path


def test_install_explains_what_is_missing(api: ApiServer, server_root: Path) -> None:
    no_token = _install(api, server_root, "--url", api.url, *_paths(server_root))
    assert no_token.returncode == 1
    assert "FLEETMON_ENROLL_TOKEN" in no_token.stderr
    assert not (server_root / "opt").exists()  # refused before changing anything

    no_venv = _python_without_ensurepip(server_root, hide=("ensurepip", "venv"))
    out = _install(api, server_root, "--url", api.url, *_paths(server_root), token="fme_x",
                   python=no_venv)  # fmt: skip
    assert out.returncode == 1
    assert "apt-get install python3-venv" in out.stderr


def test_distribution_is_served_for_pip_and_nothing_else(api: ApiServer) -> None:
    index = api.client.get("/agent/wheels/")
    assert index.status_code == 200
    assert "fleetmon_agent-" in index.text
    for name in FILES:
        assert api.client.get(f"/agent/{name}").status_code == 200, name
    for probe in ("/agent/..%2Fmeta.db", "/agent/wheels/..%2F..%2Fmeta.db", "/agent/secret.key",
                  "/agent/wheels/nothing.whl"):  # fmt: skip
        r = api.client.get(probe)
        assert r.status_code == 404, probe
        assert r.headers["content-type"] == "application/json"


def test_a_server_without_the_distribution_says_how_to_build_it(tmp_path: Path) -> None:
    db, points = f"sqlite:///{tmp_path / 'meta.db'}", f"sqlite:///{tmp_path / 'points.db'}"
    with running_api(db, points, agent_dist_dir=tmp_path / "none") as api:
        r = api.client.get("/install.sh")
        assert r.status_code == 404
        assert "deploy/agent-dist.sh" in r.json()["detail"]
