"""`fleetmon up` as a real process: answers /health, prints credentials, stops every child."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt

from tests.support.servers import free_port, stop_process, wait_http

FLEETMON = str(Path(sys.executable).parent / "fleetmon")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still "exists"; read its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_up_serves_health_and_stops_children(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, FLEETMON_DATA_DIR=str(tmp_path / "data"))
    env.pop("FLEETMON_SECRET_KEY", None)
    out = tmp_path / "up.out"
    started = time.monotonic()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [FLEETMON, "up", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
        assert time.monotonic() - started < 30
        assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
        creds = tmp_path / "data" / "admin-credentials.txt"
        deadline = time.monotonic() + 15
        text = out.read_text()
        while "started local agent" not in text and time.monotonic() < deadline:
            time.sleep(0.2)
            text = out.read_text()
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
        password = re.search(r"password: (\S+)", creds.read_text())
        assert password is not None
        assert password.group(1) in text  # printed once for the operator
        assert f"http://127.0.0.1:{port}/docs" in text
        # The banner's CLI line works as printed, from any directory.
        cli = re.search(r"admin CLI:  (.+) --help", text)
        assert cli is not None, text
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FLEETMON_")}
        listed = subprocess.run(
            ["sh", "-c", f"{cli.group(1)} list-hosts"], cwd="/", env=clean, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            data={"username": "admin", "password": password.group(1)},
        )
        assert r.status_code == 200
        # The one mode that makes its own signing key makes a random one, kept 0600; a token
        # signed with the public key older versions shipped is refused.
        key_file = tmp_path / "data" / "secret.key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        assert len(key_file.read_text().strip()) >= 32
        now = int(time.time())
        forged = jwt.encode(
            {"sub": "admin", "role": "admin", "iss": "fleetmon", "aud": "fleetmon-api",
             "iat": now, "exp": now + 600},
            "fleetmon-embedded-insecure-secret-key", algorithm="HS256",
        )  # fmt: skip
        hosts = f"http://127.0.0.1:{port}/api/v1/hosts"
        assert httpx.get(hosts, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        real = r.json()["access_token"]
        assert httpx.get(hosts, headers={"Authorization": f"Bearer {real}"}).status_code == 200
        pids = [int(p) for p in re.findall(r"\(pid (\d+)", text)]
        assert len(pids) == 2, text  # alert worker + local agent
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        for pid in pids:
            assert not _alive(pid), f"child {pid} survived"
    finally:
        stop_process(proc)


def test_up_with_its_port_taken_says_so_before_printing_or_creating_anything(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, FLEETMON_DATA_DIR=str(tmp_path / "data"))
        out = subprocess.run(
            [FLEETMON, "up", "--port", str(port)], env=env, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
    assert out.returncode == 1
    assert out.stdout == ""
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "make run PORT=" in out.stderr
    assert not (tmp_path / "data").exists()  # no admin password made for nothing
