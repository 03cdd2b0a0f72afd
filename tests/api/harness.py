"""Run the API under uvicorn in a thread on a free port, against real stores."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn

from fleetmon_api import services
from fleetmon_api.app import create_app
from fleetmon_api.settings import Settings
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Role
from tests.support.servers import free_port

SECRET = "test-secret-key-" + "0123456789abcdef" * 4
ADMIN_PASSWORD = "admin-password-1"
VIEWER_PASSWORD = "viewer-password-1"


class ApiServer:
    """A running API: its base URL, settings and helpers to get credentials."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws="none",
            lifespan="on",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self._tokens: dict[str, str] = {}

    def start(self) -> ApiServer:
        """Start and wait until it serves."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("API server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server thread."""
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)

    @property
    def state(self) -> Any:
        """The app's runtime state (for white-box checks)."""
        return self.app.state.fleetmon

    def token(self, role: str = "admin") -> str:
        """A JWT for the admin or viewer user."""
        if role not in self._tokens:
            pw = ADMIN_PASSWORD if role == "admin" else VIEWER_PASSWORD
            r = self.client.post("/api/v1/auth/token", data={"username": role, "password": pw})
            assert r.status_code == 200, r.text
            self._tokens[role] = r.json()["access_token"]
        return self._tokens[role]

    def auth(self, role: str = "admin") -> dict[str, str]:
        """Authorization header for a person."""
        return {"Authorization": f"Bearer {self.token(role)}"}

    def enroll(self, name: str | None = None, labels: dict[str, str] | None = None) -> str:
        """Create a token, enroll a host, return its API key."""
        name = name or f"host-{uuid.uuid4().hex[:8]}"
        r = self.client.post("/api/v1/enroll-tokens", json={"max_uses": 1}, headers=self.auth())
        assert r.status_code == 201, r.text
        r = self.client.post(
            "/api/v1/hosts/enroll",
            json={"token": r.json()["token"], "name": name, "labels": labels or {}},
        )
        assert r.status_code == 201, r.text
        key: str = r.json()["api_key"]
        return key


def prepare_database(url: str) -> None:
    """Migrate and add the admin and viewer users."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as db:
            services.create_user(db, "admin", ADMIN_PASSWORD, Role.ADMIN)
            services.create_user(db, "viewer", VIEWER_PASSWORD, Role.VIEWER)
    finally:
        engine.dispose()


@contextmanager
def running_api(
    database_url: str, store_url: str, migrate_users: bool = True, **overrides: Any
) -> Iterator[ApiServer]:
    """Migrate (and add the test users), start, yield and stop an API server."""
    if migrate_users:
        prepare_database(database_url)
    values: dict[str, Any] = {
        "rate_limit_key_prefix": f"fmtest-{uuid.uuid4().hex[:8]}",
        "rollup_interval_s": 0,
        **overrides,
    }
    settings = Settings(database_url=database_url, store_url=store_url, secret_key=SECRET, **values)
    server = ApiServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def now_s() -> float:
    """Wall-clock epoch seconds."""
    return datetime.now(UTC).timestamp()


def batch(n: int = 3, batch_id: str | None = None, t: float | None = None) -> dict[str, Any]:
    """An agent-shaped batch of `n` cpu points."""
    t0 = t if t is not None else now_s()
    return {
        "batch_id": batch_id or str(uuid.uuid4()),
        "agent": {"version": "1.2.3", "dropped_points": 0},
        "points": [
            {
                "measurement": "cpu",
                "time": t0 - (n - i),
                "tags": {"cpu": "cpu-total"},
                "fields": {"usage_user": float(i), "usage_idle": 90.0 - i},
            }
            for i in range(n)
        ],
    }
