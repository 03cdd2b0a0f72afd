"""`fleetmon up`: the whole system on one machine, embedded (SQLite), for `make run`."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import uvicorn
from sqlalchemy import select

from fleetmon_api import services
from fleetmon_api.app import create_app
from fleetmon_api.cli import load_settings
from fleetmon_api.settings import Settings
from fleetmon_db import embedded
from fleetmon_db import migrate as db_migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Role, User

CREDENTIALS_FILE = "admin-credentials.txt"
SECRET_FILE = "secret.key"  # noqa: S105 - a file name


def _say(msg: str) -> None:
    print(msg, flush=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def secret_key(data_dir: Path) -> str:
    """A random signing key kept in the data dir (better than the public embedded default)."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    _write_private(path, key + "\n")
    return key


def admin_credentials(settings: Settings) -> tuple[str, str | None]:
    """Create the admin on first start (random password saved 0600); later starts reuse it."""
    path = settings.data_dir / CREDENTIALS_FILE
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            exists = db.scalar(select(User.id).where(User.username == "admin")) is not None
            if not exists:
                password = secrets.token_urlsafe(18)
                services.create_user(db, "admin", password, Role.ADMIN)
                _write_private(path, f"username: admin\npassword: {password}\n")
                return "admin", password
    finally:
        engine.dispose()
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("password: "):
                return "admin", line.removeprefix("password: ")
    return "admin", None


def _enroll_token(settings: Settings) -> str:
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            issued = services.create_enroll_token(
                db, datetime.now(UTC), description="fleetmon up: local agent", max_uses=1,
                expires_in_s=600, created_by="fleetmon up",
            )  # fmt: skip
            return issued.token
    finally:
        engine.dispose()


def _tool(name: str) -> str | None:
    """A console script installed next to this Python (the workspace venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


class Children:
    """The worker and agent processes; stopped together."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.lock = threading.Lock()
        self.stopping = False

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        """Start a child with its output in a log file."""
        with self.lock:
            if self.stopping:
                return
            with log.open("ab") as out:
                proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
            self.procs.append((name, proc))
        _say(f"  started {name} (pid {proc.pid}, log {log})")

    def stop(self) -> None:
        """SIGTERM every child, then SIGKILL whatever is still alive after 10 s."""
        with self.lock:
            self.stopping = True
            procs = list(self.procs)
        for _, p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for _, p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _start_children(
    server: uvicorn.Server, settings: Settings, url: str, children: Children
) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    data = settings.data_dir.resolve()
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    base_env = dict(os.environ)
    alerts = _tool("fleetmon-alerts")
    if alerts:
        env = base_env | {
            "FLEETMON_DATABASE_URL": settings.database_url,
            "FLEETMON_STORE_URL": settings.store_url,
            "FLEETMON_DATA_DIR": str(data),
            # Notification links must point at this server's UI, not the worker's default.
            "FLEETMON_PUBLIC_URL": base_env.get("FLEETMON_PUBLIC_URL", url),
        }
        children.start("alert worker", [alerts, "run"], env, logs / "alerts.log")
    agent = _tool("fleetmon-agent")
    if agent:
        agent_dir = data / "agent"
        agent_dir.mkdir(exist_ok=True)
        state_file = agent_dir / "state.json"
        # The agent refuses FLEETMON_* variables that are not its settings: the server's
        # (FLEETMON_DATA_DIR, FLEETMON_SECRET_KEY, ...) stay out of its environment.
        agent_base = {k: v for k, v in base_env.items() if not k.startswith("FLEETMON_")}
        env = agent_base | {
            "FLEETMON_SERVER_URL": url,
            "FLEETMON_SPOOL_DIR": str(agent_dir / "spool"),
            "FLEETMON_SERVER_STATE_FILE": str(state_file),
        }
        if not state_file.exists():
            name = socket.gethostname() or "localhost"
            argv = [agent, "enroll", "--server", url, "--token-stdin", "--name", name]
            with (logs / "agent.log").open("ab") as out:
                rc = subprocess.run(
                    argv, env=env, input=_enroll_token(settings).encode() + b"\n", stdout=out,
                    stderr=subprocess.STDOUT, timeout=60, check=False,
                ).returncode  # fmt: skip
            if rc != 0:
                _say(f"  local agent enrollment failed (see {logs / 'agent.log'})")
                return
        children.start("local agent", [agent, "run"], env, logs / "agent.log")


class _Stop(Exception):
    """SIGTERM: stop like Ctrl-C."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signum)


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a port in use is found before anything is created."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run_up(port: int = 8080, host: str = "127.0.0.1") -> int:
    """Run until Ctrl-C or SIGTERM; every child is stopped before returning."""
    try:
        sock = listen(host, port)
    except OSError as exc:
        print(
            f"fleetmon up: cannot listen on {host}:{port}: {exc.strerror or exc} (is fleetmon "
            "already running?); choose another port: make run PORT=8081 (or fleetmon up "
            "--port 8081)",
            file=sys.stderr,
        )
        return 1
    with sock:
        return _run(sock, port, host)


def _run(sock: socket.socket, port: int, host: str) -> int:
    data_dir = Path(os.environ.get("FLEETMON_DATA_DIR") or embedded.DEFAULT_DATA_DIR).resolve()
    overrides: dict[str, object] = {"data_dir": data_dir}
    settings = load_settings(**overrides)  # unknown or bad settings: refused before creating
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.secret_key is None:
        # The embedded laptop mode, and only it, makes its own key (kept 0600 in the data dir).
        overrides["secret_key"] = secret_key(data_dir)
        settings = load_settings(**overrides)
    db_migrate.upgrade(settings.database_url)
    user, password = admin_credentials(settings)
    url = f"http://{host}:{port}"
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        ws="none",
        timeout_keep_alive=settings.keep_alive_s,
    )
    server = uvicorn.Server(config)
    children = Children()
    starter = threading.Thread(
        target=_start_children, args=(server, settings, url, children), daemon=True
    )
    # uvicorn re-raises the signal it caught after shutting down; turn SIGTERM into _Stop
    # (caught below) so the `finally` still stops the children.
    signal.signal(signal.SIGTERM, _raise_stop)
    _say("fleetmon is starting (embedded mode, data in " + str(data_dir.resolve()) + ")")
    _say(f"  web UI:     {url}/")
    _say(f"  API docs:   {url}/docs")
    _say(f"  health:     {url}/health")
    _say(f"  admin CLI:  FLEETMON_DATA_DIR={data_dir} {_tool('fleetmon') or 'fleetmon'} --help")
    if password:
        _say(f"  admin user: {user}  password: {password}")
        _say(f"  (saved in {data_dir / CREDENTIALS_FILE}, mode 0600)")
    else:
        _say(f"  admin user: {user} (password file {data_dir / CREDENTIALS_FILE} is missing)")
    _say("Press Ctrl-C to stop.")
    starter.start()
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        server.should_exit = True
        children.stop()
        _say("fleetmon stopped.")
    return 0
