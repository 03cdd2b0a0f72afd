"""docker-compose.yml without Docker: read the file as compose does (merge keys, ${VAR}
interpolation), and translate what a container network changes — service host names become
loopback ports of servers the test started, a container's listen address and port become a
free loopback port — leaving every command and environment variable otherwise as written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.support.servers import ServerMissing, free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
# The image's home, mapped to a temp dir per test.
IMAGE_HOME = "/srv/fleetmon"

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class ComposeError(ValueError):
    """The compose file asks for something compose itself would refuse."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable syntax: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg") or ""
        value = env.get(name)
        if op == ":?" and not value:
            raise ComposeError(f"required variable {name} is missing a value: {arg}")
        if op == ":-" and not value:
            return arg
        if op == "-" and value is None:
            return arg
        return value or ""

    return _VAR.sub(one, text)


def _walk(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _walk(v, env) for k, v in node.items()}
    return node


def load(dotenv: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose document with anchors merged and variables interpolated from `dotenv`."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return dict(_walk(doc, dotenv))


def image_env(image_root: Path, dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """The ENV of the Dockerfile's last stage, its paths under IMAGE_HOME moved to `image_root`
    (PATH excepted: the test's PATH leads to this checkout's venv instead)."""
    stages = dockerfile.read_text().replace("\\\n", " ").split("\nFROM ")
    env: dict[str, str] = {}
    for line in stages[-1].splitlines():
        if line.startswith("ENV "):
            for word in shlex.split(line[4:]):
                key, _, value = word.partition("=")
                env[key] = value.replace(IMAGE_HOME, str(image_root))
    env.pop("PATH", None)
    return env


def image_command(dockerfile: Path = DOCKERFILE) -> list[str]:
    """The CMD of the Dockerfile's last stage (exec form)."""
    stages = dockerfile.read_text().replace("\\\n", " ").split("\nFROM ")
    commands = [line[4:] for line in stages[-1].splitlines() if line.startswith("CMD ")]
    command: list[str] = json.loads(commands[-1])
    return command


@dataclass
class Network:
    """Where each (service, container port) is reachable from this machine."""

    ports: dict[tuple[str, int], int] = field(default_factory=dict)

    def add(self, service: str, container_port: int, host_port: int) -> None:
        """Publish `service:container_port` at 127.0.0.1:`host_port`."""
        self.ports[(service, container_port)] = host_port

    def translate(self, value: str, own: str | None = None) -> str:
        """Rewrite `//svc:port` and `@svc:port` (and, inside service `own`, its loopback
        listen ports and 0.0.0.0) to the loopback address of what the test started."""
        for (service, port), host_port in self.ports.items():
            names = [service] + (["127.0.0.1", "localhost"] if service == own else [])
            for name in names:
                value = re.sub(
                    rf"(?<=[/@]){re.escape(name)}:{port}\b", f"127.0.0.1:{host_port}", value
                )
        return value

    def host(self, value: str) -> str:
        """A bare service name (e.g. PGHOST) as the loopback address."""
        return "127.0.0.1" if any(value == s for s, _ in self.ports) else value

    def command(self, argv: list[str], own: str) -> list[str]:
        """A service's command with its listen address and container port translated."""
        out: list[str] = []
        for i, arg in enumerate(argv):
            prev = argv[i - 1] if i else ""
            if arg == "0.0.0.0":
                arg = "127.0.0.1"
            elif prev == "--port" and (own, int(arg)) in self.ports:
                arg = str(self.ports[(own, int(arg))])
            out.append(self.translate(arg, own))
        return out


def fleetmon_services(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository (the fleetmon image)."""
    return {n: s for n, s in doc["services"].items() if "build" in s}


def client_jobs(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One-shot jobs that run a PostgreSQL client against the postgres service (e.g. the
    grants applied after migrations): psql is installed here as it is in the image."""
    return {
        n: s
        for n, s in doc["services"].items()
        if str(s.get("image", "")).startswith("postgres:") and s.get("command")
    }


def one_shot(doc: Mapping[str, Any], name: str) -> bool:
    """True if some service waits for `name` to complete (it is a job, not a server)."""
    return any(
        (dep or {}).get("condition") == "service_completed_successfully"
        for s in doc["services"].values()
        for n, dep in (s.get("depends_on") or {}).items()
        if n == name
    )


def start_order(services: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The services in dependency order (depends_on among themselves)."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ComposeError(f"dependency cycle: {' -> '.join((*path, name))}")
        for dep in services[name].get("depends_on") or {}:
            if dep in services:
                visit(dep, (*path, name))
        order.append(name)

    for name in services:
        visit(name, ())
    return order


def postgres_bin() -> Path:
    """The newest installed PostgreSQL server's bin dir."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise ServerMissing("PostgreSQL server binaries not found (Debian package postgresql)")
    return found[-1].parent


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and the server refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def volumes(service: Mapping[str, Any]) -> dict[str, Path]:
    """A service's bind mounts of this repository: container path -> path here."""
    out: dict[str, Path] = {}
    for spec in service.get("volumes") or []:
        source, _, rest = str(spec).partition(":")
        if source.startswith("./"):
            out[rest.split(":")[0]] = ROOT / source[2:]
        # named volumes (data) start empty, as they do here
    return out


def run_init_scripts(service: Mapping[str, Any], port: int) -> None:
    """What the postgres image runs on a new database: /docker-entrypoint-initdb.d/*.sh
    (with the service's environment) and *.sql, in name order, as POSTGRES_USER."""
    scripts = volumes(service).get("/docker-entrypoint-initdb.d")
    if scripts is None:
        return
    env = dict(service["environment"])
    env |= {"PATH": os.environ["PATH"], "PGHOST": "127.0.0.1", "PGPORT": str(port),
            "PGPASSWORD": env["POSTGRES_PASSWORD"]}  # fmt: skip
    for script in sorted(scripts.iterdir()):
        if script.suffix == ".sh":
            argv = ["sh", str(script)]
        elif script.suffix == ".sql":
            argv = ["psql", "-v", "ON_ERROR_STOP=1", "--username", env["POSTGRES_USER"],
                    "--dbname", env["POSTGRES_DB"], "-f", str(script)]  # fmt: skip
        else:
            continue
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip
        if done.returncode != 0:
            raise ComposeError(f"postgres init {script.name} failed: {done.stderr}")


@contextlib.contextmanager
def postgres_container(service: Mapping[str, Any]) -> Iterator[int]:
    """A private PostgreSQL cluster set up the way the postgres image reads its environment
    (POSTGRES_USER superuser with POSTGRES_PASSWORD, password auth, POSTGRES_DB, then its
    init scripts); yields its loopback port."""
    env = service["environment"]
    bindir = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="fleetmon-compose-pg-"))
    user, password = env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    data = root / "data"
    try:
        subprocess.run(
            _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", user,
                          f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
                          "-w", "-t", "60", "start", "-o",
                          f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"]),
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip
        dsn = f"postgresql://{user}:{password}@127.0.0.1:{port}/postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{env["POSTGRES_DB"]}" OWNER "{user}"')
        run_init_scripts(service, port)
        yield port
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def redis_container(command: list[str]) -> Iterator[int]:
    """The compose redis service's own command, on a free loopback port."""
    binary = shutil.which(command[0])
    if binary is None:
        raise ServerMissing(f"{command[0]} is not installed (Debian package redis-server)")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="fleetmon-compose-redis-"))
    argv = [binary, *command[1:], "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ServerMissing(f"redis-server did not start: exit {proc.poll()}")
            time.sleep(0.05)
        yield port
    finally:
        stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)
