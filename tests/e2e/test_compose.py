"""docker-compose.yml executed natively: every fleetmon service's exact command and environment,
against real PostgreSQL (set up as the postgres image reads its environment), influxd and Redis
(the redis service's own command), in the file's dependency order; then the operator's first
day through that topology: create an admin and a token, a real agent enrolls and sends, a
rule fires and a webhook channel receives it."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis

from fleetmon_alerts.settings import KNOWN as WORKER_VARIABLES
from fleetmon_api.settings import known_variables
from fleetmon_db.timeseries import Point, open_store
from fleetmon_db.timeseries.tiers import DEFAULT_TIERS
from tests.conftest import server_missing
from tests.e2e import compose
from tests.support.influxemu import Emulator
from tests.support.receiver import Receiver
from tests.support.servers import (
    INFLUX_CACHE_SNAPSHOT_BYTES,
    InfluxServer,
    ServerMissing,
    free_port,
    start_influxd,
    stop_process,
)

BIN = Path(sys.executable).parent
# What an operator puts in .env (docs/operations.md).
DOTENV = {
    "FLEETMON_SECRET_KEY": secrets.token_hex(32),
    "INFLUX_TOKEN": secrets.token_hex(32),
    "INFLUX_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    "POSTGRES_PASSWORD": secrets.token_urlsafe(12),
    "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    "GRAFANA_DB_PASSWORD": secrets.token_urlsafe(12),
}


def _container_port(spec: str) -> int:
    return int(spec.split(":")[-1].split("/")[0])


class Stack:
    """The compose services as processes; logs under `root/logs`."""

    def __init__(self, root: Path, doc: dict[str, Any], network: compose.Network) -> None:
        self.root, self.doc, self.network = root, doc, network
        self.services = compose.fleetmon_services(doc) | compose.client_jobs(doc)
        (root / "logs").mkdir(parents=True)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: list[IO[bytes]] = []
        # The container's own environment: the image's ENV (paths moved under root) and
        # nothing of ours but a PATH that leads to this checkout's console scripts.
        self.base = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
        self.base |= compose.image_env(root / "image")

    def env(self, name: str) -> dict[str, str]:
        """The environment a service's container has."""
        env = dict(self.base)
        for key, value in (self.services[name].get("environment") or {}).items():
            env[key] = self.network.host(self.network.translate(str(value), name))
        if env.get("PGHOST") == "127.0.0.1" and "PGPORT" not in env:
            env["PGPORT"] = str(self.network.ports[("postgres", 5432)])
        return env

    def argv(self, name: str, command: list[str] | None = None) -> list[str]:
        """A service's command (or one run in its container), resolved on its PATH."""
        argv = self.network.command(command or self.services[name]["command"], name)
        mounts = compose.volumes(self.services[name])
        argv = [str(mounts[a]) if a in mounts else a for a in argv]
        found = shutil.which(argv[0], path=self.base["PATH"])
        assert found, f"{name}: {argv[0]} is not a command of the image"
        return [found, *argv[1:]]

    def log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def run_to_completion(self, name: str) -> None:
        with (self.root / "logs" / f"{name}.log").open("wb") as out:
            rc = subprocess.run(
                self.argv(name), env=self.env(name), stdout=out, stderr=subprocess.STDOUT,
                timeout=180, check=False,
            ).returncode  # fmt: skip
        assert rc == 0, f"{name} exited {rc}:\n{self.log(name)}"

    def start(self, name: str) -> None:
        out = (self.root / "logs" / f"{name}.log").open("wb")
        self.logs.append(out)
        self.procs[name] = subprocess.Popen(
            self.argv(name), env=self.env(name), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def exec(self, name: str, command: list[str], stdin: str = "") -> str:
        """`docker compose exec <name> <command>`: stdout; fails on a non-zero exit."""
        done = subprocess.run(
            self.argv(name, command), env=self.env(name), input=stdin, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}: {done.stderr}"
        return done.stdout

    def wait_healthy(self, name: str, timeout: float = 90.0) -> None:
        """The service's own healthcheck passes (or, without one, it says it started)."""
        check = self.services[name].get("healthcheck")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[name]
            assert proc.poll() is None, f"{name} exited {proc.returncode}:\n{self.log(name)}"
            if check is not None:
                test = check["test"]
                assert test[0] == "CMD", test
                rc = subprocess.run(
                    self.argv(name, test[1:]), env=self.env(name), capture_output=True,
                    timeout=30, check=False,
                ).returncode  # fmt: skip
                if rc == 0:
                    return
            elif "became leader" in self.log(name):
                return
            time.sleep(1.0)
        raise AssertionError(f"{name} not healthy within {timeout}s:\n{self.log(name)}")

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process(proc, timeout=20)
            # Workers a slow shutdown left behind go with their process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for f in self.logs:
            f.close()


@contextlib.contextmanager
def backing_services(doc: dict[str, Any], root: Path) -> Iterator[compose.Network]:
    """PostgreSQL, InfluxDB and Redis on loopback ports, published under their service names."""
    services = doc["services"]
    network = compose.Network()
    with contextlib.ExitStack() as stack:
        try:
            pg_port = stack.enter_context(compose.postgres_container(services["postgres"]))
            (root / "influxd").mkdir()
            influx = start_influxd(root / "influxd")
            stack.callback(influx.stop)
            redis_port = stack.enter_context(compose.redis_container(services["redis"]["command"]))
        except ServerMissing as exc:
            server_missing(exc)
        network.add("postgres", 5432, pg_port)
        network.add("influxdb", 8086, int(urlsplit(influx.url).port or 0))
        network.add("redis", 6379, redis_port)
        for name, service in compose.fleetmon_services(doc).items():
            for spec in service.get("ports") or []:
                network.add(name, _container_port(spec), free_port())
        yield network


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_compose_services_start_and_alert_end_to_end(tmp_path: Path, receiver: Receiver) -> None:
    doc = compose.load(DOTENV)
    services = compose.fleetmon_services(doc) | compose.client_jobs(doc)
    order = compose.start_order(services)
    assert order[0] == "migrate", order
    assert set(order) == {"migrate", "api", "alerts", "grafana-grants"}, order
    with backing_services(doc, tmp_path) as network:
        stack = Stack(tmp_path, doc, network)
        try:
            for name in order:
                if compose.one_shot(doc, name):
                    stack.run_to_completion(name)
                else:
                    stack.start(name)
            for name in stack.procs:
                stack.wait_healthy(name)
            _grafana_reads_only_the_alert_tables(network)
            _first_day(stack, network, receiver, tmp_path)
        finally:
            stack.stop()


def _grafana_reads_only_the_alert_tables(network: compose.Network) -> None:
    """The postgres init script made Grafana's role; the grafana-grants job granted it."""
    port = network.ports[("postgres", 5432)]
    dsn = f"postgresql://grafana_reader:{DOTENV['GRAFANA_DB_PASSWORD']}@127.0.0.1:{port}/fleetmon"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM alert_rules").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM users")


def _first_day(stack: Stack, network: compose.Network, receiver: Receiver, root: Path) -> None:
    api = f"http://127.0.0.1:{network.ports[('api', 8080)]}"
    # docs/operations.md: the first admin and an enrollment token, from inside the api container.
    password = secrets.token_urlsafe(16)
    assert stack.exec("api", ["fleetmon", "create-user", "alice", "--role", "admin",
                              "--password-stdin"], stdin=password + "\n") == ""  # fmt: skip
    token = stack.exec("api", ["fleetmon", "create-enroll-token", "--uses", "1"]).strip()
    assert token.startswith("fme_")

    login = httpx.post(f"{api}/api/v1/auth/token", data={"username": "alice", "password": password})
    assert login.status_code == 200, login.text
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    rule = f"compose-{secrets.token_hex(3)}"
    hook = {"name": "hook", "kind": "webhook", "config": {"url": receiver.url + "/hook"}}
    r = httpx.post(f"{api}/api/v1/alerts/channels", headers=admin, json=hook)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{api}/api/v1/alerts/rules", headers=admin, json={
        "name": rule, "metric": "mem.used_percent", "aggregate": "avg", "window_s": 60,
        "comparison": ">", "threshold": 0, "for_s": 0, "severity": "warning",
        "channels": ["hook"], "annotations": {"summary": "$host memory at $value %"},
    })  # fmt: skip
    assert r.status_code == 201, r.text

    # A real agent on a "monitored server": enrolls with the token on stdin, then sends.
    agent_env = {
        "PATH": os.environ["PATH"],
        "FLEETMON_SERVER_URL": api,
        "FLEETMON_SPOOL_DIR": str(root / "agent" / "spool"),
        "FLEETMON_BATCH_FLUSH_INTERVAL": "1s",
    }
    agent = str(BIN / "fleetmon-agent")
    enrolled = subprocess.run([agent, "enroll", "--token-stdin", "--name", "compose-host-1"],
                              env=agent_env, input=token + "\n", capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    with (root / "logs" / "agent.log").open("wb") as out:
        proc = subprocess.Popen([agent, "run"], env=agent_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        fired: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not fired:
            fired = [d for d in (x.json() for x in receiver.ok()) if d.get("rule") == rule]
            time.sleep(0.2)
        assert fired, f"no notification for {rule}:\n{stack.log('alerts')}\n{stack.log('api')}"
        assert fired[0]["status"] == "firing"
        assert fired[0]["host"] == "compose-host-1"
    finally:
        stop_process(proc)

    # The host's data went through the API into InfluxDB...
    host = httpx.get(f"{api}/api/v1/hosts/compose-host-1", headers=admin).json()
    assert host["status"] == "up", host
    # ...and the two API workers shared their batch ids through the compose file's Redis.
    redis_url = stack.env("api")["FLEETMON_REDIS_URL"]
    client = redis.Redis.from_url(redis_url)
    try:
        assert any(client.scan_iter(match="fleetmon:batch:*", count=1000))
    finally:
        client.close()
    workers = set(re.findall(r"Started server process \[(\d+)\]", stack.log("api")))
    assert len(workers) == 2, stack.log("api")


def test_compose_uses_only_settings_that_exist() -> None:
    """Every FLEETMON_* variable given to a fleetmon service is read by the API or the worker
    (the processes refuse the others; this names the culprit without starting anything)."""
    doc = compose.load(DOTENV)
    known = known_variables() | WORKER_VARIABLES
    for name, service in compose.fleetmon_services(doc).items():
        for key in service.get("environment") or {}:
            if key.startswith("FLEETMON_"):
                assert key in known, f"{name}: {key} is not a fleetmon setting"
    for key in compose.image_env(Path("/image")):
        if key.startswith("FLEETMON_"):
            assert key in known, f"Dockerfile: {key} is not a fleetmon setting"


def test_influxdb_runs_with_the_cache_snapshot_size_the_benchmarks_measured() -> None:
    """The compose file's influxd snapshots its cache at the size every influxd of the suite
    and of `python -m bench fleet` runs with: the fleet figures hold for what is shipped."""
    env = compose.load(DOTENV)["services"]["influxdb"]["environment"]
    assert int(env["INFLUXD_STORAGE_CACHE_SNAPSHOT_MEMORY_SIZE"]) == INFLUX_CACHE_SNAPSHOT_BYTES


def test_influxdb_2_init_creates_the_buckets_and_the_default_mapping(
    tmp_path: Path, influx_server: InfluxServer, influx_27: Emulator
) -> None:
    """deploy/influxdb-init, run as the influxdb:2.7 image runs it (its environment from this
    compose file), against InfluxDB 2.7.12 emulated: one bucket `<db>/<tier>` per tier with
    the tier's retention, and the default DBRP mapping without which unqualified InfluxQL
    (the host list, Grafana's queries) fails on 2.7. The `influx` CLI of the image is
    replaced by the same API calls (tests/support/influxemu/influx_cli.py)."""
    doc = compose.load(DOTENV)
    env = doc["services"]["influxdb"]["environment"]
    store_url = doc["services"]["api"]["environment"]["FLEETMON_STORE_URL"]
    database = urlsplit(store_url).path.strip("/")
    assert env["DOCKER_INFLUXDB_INIT_BUCKET"] == f"{database}/raw"
    # What the image's own set-up does before the init scripts: the org, the admin token
    # and the raw bucket.
    influx_27.add_token(env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"])
    auth = {"Authorization": f"Token {env['DOCKER_INFLUXDB_INIT_ADMIN_TOKEN']}"}
    hours = int(env["DOCKER_INFLUXDB_INIT_RETENTION"].removesuffix("h"))
    httpx.post(
        f"{influx_27.url}/api/v2/buckets",
        headers=auth,
        json={
            "name": env["DOCKER_INFLUXDB_INIT_BUCKET"],
            "retentionRules": [{"type": "expire", "everySeconds": hours * 3600}],
        },
    ).raise_for_status()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "influx"
    cli.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m tests.support.influxemu.influx_cli "$@"\n'
    )
    cli.chmod(0o755)
    script = compose.ROOT / "deploy" / "influxdb-init" / "10-fleetmon-buckets.sh"
    try:
        subprocess.run(
            ["sh", str(script)],
            env={
                **{k: str(v) for k, v in env.items()},
                "PATH": f"{bin_dir}:{os.environ['PATH']}",
                "PYTHONPATH": str(compose.ROOT),
                "INFLUX_HOST": influx_27.url,
            },
            cwd=compose.ROOT,
            check=True,
            timeout=60,
        )
        rps = httpx.post(
            f"{influx_server.url}/query", data={"q": f'SHOW RETENTION POLICIES ON "{database}"'}
        ).json()["results"][0]["series"][0]["values"]
        retention_h = {row[0]: int(row[1].split("h")[0]) for row in rps if row[0] != "autogen"}
        assert retention_h == {t.name: t.retention_s // 3600 for t in DEFAULT_TIERS}
        store = open_store(f"{influx_27.url}/{database}", influx_token=DOTENV["INFLUX_TOKEN"])
        try:
            store.ensure_schema()
            store.write([Point("init-host", "cpu", time.time_ns(), {}, {"usage_user": 1.0})])
            assert store.hosts() == ["init-host"]
        finally:
            store.close()
        # Grafana's host variable: unqualified, answered through the default mapping.
        grafana = httpx.post(
            f"{influx_27.url}/query",
            data={"db": database, "q": 'SHOW TAG VALUES WITH KEY = "host"'},
            headers=auth,
        ).json()["results"][0]
        assert "error" not in grafana, grafana
    finally:
        httpx.post(f"{influx_server.url}/query", data={"q": f'DROP DATABASE "{database}"'})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "1"),
        ("${MISSING:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("$${A}", "${A}"),
        ("x${A}y", "x1y"),
    ],
)
def test_interpolation_follows_compose(text: str, expected: str) -> None:
    assert compose.interpolate(text, {"A": "1", "EMPTY": ""}) == expected


def test_interpolation_refuses_a_missing_required_variable() -> None:
    with pytest.raises(compose.ComposeError, match="POSTGRES_PASSWORD"):
        compose.load({k: v for k, v in DOTENV.items() if k != "POSTGRES_PASSWORD"})
