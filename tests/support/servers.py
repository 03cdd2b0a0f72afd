"""Start and reach the real servers the tests and benchmarks run against."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

PG_ADMIN_DSN = os.environ.get("FLEETMON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FLEETMON_TEST_REDIS", "redis://127.0.0.1:6379")


# How long a server process the tests start may take to answer: importing the API alone
# takes ~2 s on a quiet machine, but several times that when the machine is busy.
SERVER_START_S = 90.0


class ServerMissing(RuntimeError):
    """A server the test needs is not installed or not reachable."""


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, timeout: float = SERVER_START_S, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `url` until it answers below 500, the process dies, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerMissing(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise ServerMissing(f"{url} did not answer within {timeout}s: {last}")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a child process, killing it if it does not exit in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


@dataclass
class InfluxServer:
    """A throwaway influxd with its own data dir and ports."""

    url: str
    proc: subprocess.Popen[bytes]
    root: Path

    def stop(self) -> None:
        """Stop the server and delete its data."""
        stop_process(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)


# influxd's cache snapshot size, as docker-compose.yml sets it for InfluxDB 2.7 (a test keeps
# the two equal). The default (25 MiB) snapshots every few seconds under a 2,000-host fleet,
# and the snapshots and the compactions they cause were half of influxd's CPU
# (docs/benchmarks.md, "Fleet"); 256 MiB made the rollups' reads of recent data, still in the
# cache, cost more than the writes saved.
INFLUX_CACHE_SNAPSHOT_BYTES = 64 * 1024 * 1024


def start_influxd(
    root: Path | None = None, cache_snapshot_bytes: int = INFLUX_CACHE_SNAPSHOT_BYTES
) -> InfluxServer:
    """Start influxd 1.x on free loopback ports; raise ServerMissing if it is not installed.

    `cache_snapshot_bytes`: the cache snapshot size (InfluxDB's own default is 25 MiB)."""
    binary = shutil.which("influxd")
    if binary is None:
        raise ServerMissing("influxd is not installed (Debian package influxdb)")
    root = root or Path(tempfile.mkdtemp(prefix="fleetmon-influx-"))
    http_port, rpc_port = free_port(), free_port()
    conf = root / "influxdb.conf"
    conf.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
  cache-snapshot-memory-size = {cache_snapshot_bytes}
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""
    )
    log = (root / "influxd.log").open("wb")
    with log:  # the child keeps its own descriptor; ours must not leak (ResourceWarning)
        proc = subprocess.Popen(
            [binary, "-config", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_http(f"{url}/ping", proc=proc)
    except ServerMissing:
        stop_process(proc)
        raise
    return InfluxServer(url=url, proc=proc, root=root)


def _pg_connect(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ServerMissing(f"PostgreSQL not reachable at {dsn}: {exc}") from exc


@contextlib.contextmanager
def throwaway_pg_database(prefix: str = "fleetmon_test") -> Iterator[str]:
    """Create a fresh PostgreSQL database; yield its SQLAlchemy URL; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _pg_connect(PG_ADMIN_DSN) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_connect(PG_ADMIN_DSN) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_available(url: str = REDIS_URL) -> None:
    """Raise ServerMissing unless Redis answers PING at `url`."""
    host_port = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=2) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(16).startswith(b"+PONG"):
                raise ServerMissing(f"Redis at {url} did not answer PONG")
    except OSError as exc:
        raise ServerMissing(f"Redis not reachable at {url}: {exc}") from exc
