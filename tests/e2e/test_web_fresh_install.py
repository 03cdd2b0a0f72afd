"""A fresh install in a real browser: the 24 h, 7 d and 30 d views of a host show its data as
soon as the first collection arrives, before any rollup has run, and still after one has.

The long views read rollup tiers, which hold closed windows only; the query layer answers the
rest of the range from finer data (database/src/fleetmon_db/timeseries/stitch.py).
Screenshots are kept as artifacts (tests/support/shots.py).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fleetmon_api.app import create_app
from fleetmon_api.security import hash_password, hash_secret, new_host_key
from fleetmon_api.settings import Settings
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Host, HostKey, Role, User
from tests.support.servers import free_port, wait_http
from tests.support.shots import shots_dir

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a fresh install's first viewer"
HOST = "new-01"


@dataclass
class Install:
    """A just-started API server (no rollup has run) and its one host's key."""

    url: str
    key: str
    app: FastAPI


def _seed(db_url: str) -> str:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    with make_sessionmaker(engine).begin() as db:
        db.add(User(username="ops", password_hash=hash_password(PASSWORD), role=Role.VIEWER.value))
        host = Host(name=HOST, labels={})
        db.add(host)
        db.flush()
        key = new_host_key()
        db.add(HostKey(host_id=host.id, prefix=key.prefix, key_hash=hash_secret(key.value)))
    engine.dispose()
    return key.value


def _collection(t: float) -> list[dict[str, Any]]:
    """One collection of the agent: CPU and memory."""
    return [
        {
            "measurement": "cpu",
            "time": t,
            "tags": {"cpu": "cpu-total"},
            "fields": {"usage_user": 21.0, "usage_system": 4.0, "usage_iowait": 0.5,
                       "usage_idle": 74.5},
        },
        {"measurement": "mem", "time": t, "tags": {}, "fields": {"used_percent": 38.0}},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    """The API on a new data directory (SQLite), no rollup run yet."""
    data = tmp_path_factory.mktemp("fresh-install")
    settings = Settings(
        data_dir=data, rollup_interval_s=0, presence_flush_s=0.2, secret_key=secrets.token_hex(32)
    )
    key = _seed(settings.database_url)
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, name="fresh-uvicorn", daemon=True)
    thread.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        yield Install(f"http://127.0.0.1:{port}", key, app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def _push(install: Install, t: float) -> None:
    body = {"batch_id": str(uuid.uuid4()), "agent": {"version": "1.0.0"}, "points": _collection(t)}
    r = httpx.post(
        f"{install.url}/api/v1/metrics/collect",
        json=body,
        headers={"Authorization": f"Bearer {install.key}"},
        timeout=30,
    )
    assert r.status_code == 202, r.text


def _ranges_show_data(page: Page, shot: str) -> None:
    for label in ("24h", "7d", "30d"):
        page.goto(f"/#/host/{HOST}?range={label}")
        for chart, series in (("cpu", "3"), ("memory", "1")):
            card = page.locator(f"[data-chart='{chart}']")
            expect(card).to_have_attribute("data-range", label)
            expect(card).to_have_attribute("data-series", series)
            expect(card.locator(".chart-empty")).to_be_hidden()
        page.screenshot(path=str(shots_dir() / f"{shot}-{label}.png"), full_page=True)


def test_long_ranges_show_the_first_collection(browser: Browser, install: Install) -> None:
    _push(install, time.time() - 2)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=install.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#whoami")).to_contain_text("ops")
    _ranges_show_data(page, "fresh-install")

    # The first rollup run closes windows before the data; the newest part still comes raw.
    install.app.state.fleetmon.store.rollup(time.time_ns())
    _push(install, time.time() - 1)
    _ranges_show_data(page, "fresh-install-rolled-up")
    assert errors == []
    context.close()
