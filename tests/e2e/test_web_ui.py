"""The built-in web UI in a real browser against a real API server with real ingested data."""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from fleetmon_api.app import create_app
from fleetmon_api.security import hash_password, hash_secret, new_host_key
from fleetmon_api.settings import Settings
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import AlertEvent, AlertRule, AlertState, Host, HostKey, Role, User
from tests.support.servers import free_port, wait_http
from tests.support.shots import shots_dir

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
# Screenshots: artifacts in $FLEETMON_UI_SHOTS or build/ui-shots/ (tests/support/shots.py).
SHOTS = shots_dir()
STEP_S = 30
HISTORY_S = 3600


@dataclass
class Fleet:
    """A running API server with a user and hosts that have pushed an hour of data."""

    url: str
    username: str
    keys: dict[str, str] = field(default_factory=dict)


def _points(host_index: int, now: float) -> list[dict[str, Any]]:
    """An hour of Telegraf-shaped points every STEP_S seconds; values differ per host."""
    points: list[dict[str, Any]] = []
    sent = recv = read = written = 0
    base_cpu = [12.0, 55.0, 78.0][host_index % 3]
    for i in range(HISTORY_S // STEP_S + 1):
        t = now - HISTORY_S + i * STEP_S
        wave = math.sin(i / 12)
        user = max(0.5, base_cpu + 6 * wave)
        recv += int(2_500_000 * STEP_S * (1.2 + wave) * (host_index + 1) ** 2)
        sent += int(800_000 * STEP_S * (1.1 - wave / 2) * (host_index + 1))
        read += 4_000_000 * STEP_S
        written += int(9_000_000 * STEP_S * (1 + wave / 3))
        total = {"cpu": "cpu-total"}
        points += [
            {
                "measurement": "cpu",
                "time": t,
                "tags": total,
                "fields": {
                    "usage_user": round(user, 2),
                    "usage_system": round(user / 8, 2),
                    "usage_iowait": 1.5,
                    "usage_idle": round(100 - user * 1.125 - 1.5, 2),
                },
            },
            {
                "measurement": "mem",
                "time": t,
                "tags": {},
                "fields": {
                    "used_percent": 41.5 + 10 * host_index + 2 * wave,
                    "total": 16 * 2**30,
                    "used": int((0.415 + 0.1 * host_index) * 16 * 2**30),
                    "available": int((0.585 - 0.1 * host_index) * 16 * 2**30),
                },
            },
            {
                "measurement": "system",
                "time": t,
                "tags": {},
                "fields": {
                    "load1": round(max(0.0, base_cpu / 20 + wave), 2),
                    "load5": round(base_cpu / 22, 2),
                    "load15": round(base_cpu / 25, 2),
                    "n_cpus": 8,
                    "uptime": 86400 * 12 + int(t - now + HISTORY_S),
                },
            },
            {
                "measurement": "disk",
                "time": t,
                "tags": {"path": "/", "device": "sda1", "fstype": "ext4"},
                "fields": {
                    "used_percent": 62.0 + host_index * 9,
                    "total": 200 * 2**30,
                    "used": int((0.62 + host_index * 0.09) * 200 * 2**30),
                    "free": int((0.38 - host_index * 0.09) * 200 * 2**30),
                },
            },
            {
                "measurement": "disk",
                "time": t,
                "tags": {"path": "/var/lib/data", "device": "sdb1", "fstype": "xfs"},
                "fields": {
                    "used_percent": 35.0 + host_index * 3 + i / 60,
                    "total": 2000 * 2**30,
                    "used": int(0.35 * 2000 * 2**30),
                    "free": int(0.65 * 2000 * 2**30),
                },
            },
            {
                "measurement": "net",
                "time": t,
                "tags": {"interface": "eth0"},
                "fields": {"bytes_recv": recv, "bytes_sent": sent},
            },
            {
                "measurement": "diskio",
                "time": t,
                "tags": {"name": "sda"},
                "fields": {"read_bytes": read, "write_bytes": written},
            },
        ]
    for rank, (name, cpu, rss) in enumerate(
        [("postgres", 31.5, 2.1e9), ("nginx", 12.25, 3.0e8), ("fleetmon-agent", 0.4, 4.1e7)]
    ):
        points.append(
            {
                "measurement": "procstat",
                "time": now,
                "tags": {"process_name": name, "pid": str(100 + rank), "user": "svc"},
                "fields": {
                    "cpu_usage": cpu,
                    "memory_rss": int(rss),
                    "memory_usage": round(100 * rss / (16 * 2**30), 3),
                    "cmdline": f"/usr/bin/{name} --config /etc/{name}.conf",
                },
            }
        )
    return points


def _cpu_point(t: float, idle: float) -> dict[str, Any]:
    return {
        "measurement": "cpu",
        "time": t,
        "tags": {"cpu": "cpu-total"},
        "fields": {"usage_user": 100 - idle - 5, "usage_system": 5.0, "usage_idle": idle},
    }


def _push(fleet: Fleet, host: str, points: list[dict[str, Any]]) -> None:
    body = {"batch_id": str(uuid.uuid4()), "agent": {"version": "1.0.0"}, "points": points}
    r = httpx.post(
        f"{fleet.url}/api/v1/metrics/collect",
        json=body,
        headers={"Authorization": f"Bearer {fleet.keys[host]}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text


def _seed_metadata(db_url: str) -> tuple[str, dict[str, str]]:
    """A user, three hosts with keys, and one host that stopped reporting 20 minutes ago."""
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    keys: dict[str, str] = {}
    now = datetime.now(UTC)
    with sessions.begin() as db:
        db.add(User(username="ops", password_hash=hash_password(PASSWORD), role=Role.VIEWER.value))
        labelsets = [
            {"env": "prod", "role": "web"},
            {"env": "prod", "role": "db"},
            {"env": "staging", "role": "batch"},
        ]
        for name, labels in zip(["web-01", "db-01", "batch-03"], labelsets, strict=True):
            host = Host(name=name, labels=labels)
            db.add(host)
            db.flush()
            key = new_host_key()
            db.add(
                HostKey(
                    host_id=host.id,
                    prefix=key.prefix,
                    key_hash=hash_secret(key.value),
                )
            )
            keys[name] = key.value
        # What the alert worker leaves behind for a firing rule (the worker is not run here).
        rule = AlertRule(
            name="High CPU",
            metric="cpu.usage_active",
            threshold=90.0,
            severity="critical",
            annotations={"summary": "CPU above 90% for 5 minutes"},
        )
        db.add(rule)
        db.flush()
        db.add(
            AlertState(
                rule_id=rule.id,
                fingerprint="batch-03",
                host="batch-03",
                status="firing",
                value=92.5,
                pending_since=now - timedelta(minutes=10),
                firing_since=now - timedelta(minutes=5),
                annotations={"summary": "CPU above 90% for 5 minutes"},
            )
        )
        # A less severe alert that fired earlier: the page must still list the critical one
        # first (the severity order comes from the server).
        load = AlertRule(name="Load high", metric="system.load1", threshold=4.0, severity="warning")
        db.add(load)
        db.flush()
        db.add(
            AlertState(
                rule_id=load.id,
                fingerprint="batch-03-load",
                host="batch-03",
                status="firing",
                value=6.0,
                pending_since=now - timedelta(minutes=35),
                firing_since=now - timedelta(minutes=30),
            )
        )
        for before, after, ago in (("inactive", "pending", 10), ("pending", "firing", 5)):
            db.add(
                AlertEvent(
                    rule_id=rule.id,
                    rule_name=rule.name,
                    fingerprint="batch-03",
                    host="batch-03",
                    severity="critical",
                    from_status=before,
                    to_status=after,
                    value=92.5,
                    at=now - timedelta(minutes=ago),
                )
            )
        db.add(
            Host(
                name="legacy-07",
                labels={"env": "prod", "role": "cache"},
                agent_version="0.9.2",
                first_seen=now - timedelta(days=40),
                last_seen=now - timedelta(minutes=20),
            )
        )
    engine.dispose()
    return "ops", keys


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A real API server (uvicorn, SQLite stores in a temp dir) with seeded hosts and data."""
    data = tmp_path_factory.mktemp("webui")
    settings = Settings(
        data_dir=data, rollup_interval_s=0, presence_flush_s=0.2, secret_key=secrets.token_hex(32)
    )
    user, keys = _seed_metadata(settings.database_url)
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="webui-uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health")
        now = time.time()
        with httpx.Client(base_url=url, timeout=30) as client:
            for index, (name, key) in enumerate(keys.items()):
                body = {
                    "batch_id": str(uuid.uuid4()),
                    "agent": {"version": "1.0.0", "dropped_points": 0},
                    "points": _points(index, now),
                }
                r = client.post(
                    "/api/v1/metrics/collect",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert r.status_code == 202, (name, r.status_code, r.text)
        # The 7d/30d views read the 5-minute and 1-hour tiers: roll up now, deterministically.
        app.state.fleetmon.store.rollup(time.time_ns())
        time.sleep(0.5)  # presence flush: hosts get last_seen + agent version
        yield Fleet(url=url, username=user, keys=keys)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, no network beyond loopback."""
    pw: Playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@dataclass
class Console:
    """Console errors and page errors seen by one page."""

    errors: list[str] = field(default_factory=list)


def _open(
    browser: Browser, fleet: Fleet, scheme: str = "light", width: int = 1440
) -> tuple[Page, Console]:
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        color_scheme=scheme,  # type: ignore[arg-type]
        base_url=fleet.url,
    )
    page = context.new_page()
    seen = Console()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            seen.errors.append(f"console {msg.type}: {msg.text} at {msg.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.errors.append(f"page error: {exc}"))
    return page, seen


def _login(page: Page, fleet: Fleet, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(fleet.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_shell_has_strict_csp_and_cacheable_assets(fleet: Fleet) -> None:
    with httpx.Client(base_url=fleet.url) as client:
        shell = client.get("/")
        assert shell.status_code == 200
        csp = shell.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert shell.headers["cache-control"] == "no-cache"
        assert "<script>" not in shell.text  # no inline script anywhere in the shell
        entry = re.search(r'<script type="module" src="(/ui/[0-9a-f]+/js/app\.js)"', shell.text)
        assert entry is not None
        asset = entry.group(1)
        js = client.get(asset)
        assert js.status_code == 200
        assert js.headers["content-type"].startswith("text/javascript")
        assert "immutable" in js.headers["cache-control"]
        uplot = client.get(asset.replace("js/app.js", "vendor/uPlot.iife.min.js"))
        assert uplot.headers["content-encoding"] == "gzip"  # httpx decodes it transparently
        assert "uPlot" in uplot.text[:200]
        again = client.get(asset, headers={"If-None-Match": js.headers["etag"]})
        assert again.status_code == 304
        assert client.get("/ui/x/../../settings.py").status_code == 404
        assert client.get("/ui/x/js/../../../routers/ui.py").status_code == 404
        # Alert notifications link to <public_url>/hosts/<name>.
        link = client.get("/hosts/web 01")
        assert link.status_code == 307
        assert link.headers["location"] == "/#/host/web%2001"
        paths = client.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if p in ("/", "/alerts") or p.startswith(("/ui", "/hosts/{"))]


def test_bad_password_shows_error(browser: Browser, fleet: Fleet) -> None:
    page, seen = _open(browser, fleet)
    _login(page, fleet, password="wrong password")
    expect(page.locator("#login-error")).to_have_text("Incorrect username or password.")
    assert page.evaluate("sessionStorage.getItem('fleetmon.token')") is None
    expect(page.locator("#fleet-table")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "fleetmon-login-error.png"))
    # The failed login's 401 is the only console noise a browser reports; nothing else.
    assert [e for e in seen.errors if "401" not in e] == []
    page.context.close()


def test_overview_then_host_page(browser: Browser, fleet: Fleet) -> None:
    page, seen = _open(browser, fleet)
    _login(page, fleet)
    table = page.locator("#fleet-table")
    web = table.locator("tr[data-host='web-01']")
    expect(web).to_be_visible()
    expect(web.locator("[data-status]")).to_have_attribute("data-status", "up")
    # CPU busy = 100 - the newest usage_idle web-01 sent, as the overview renders it.
    user = max(0.5, 12.0 + 6 * math.sin((HISTORY_S // STEP_S) / 12))
    busy = 100 - round(100 - user * 1.125 - 1.5, 2)
    expect(web.locator("td[data-metric='cpu'] .meter-value")).to_have_text(f"{busy:.1f}%")
    # The worst disk is named by its mount point next to its percentage.
    disk = web.locator("td[data-metric='disk']")
    expect(disk.locator(".meter-value")).to_have_text("62.0%")
    expect(disk.locator(".meter-note")).to_have_text("/")
    # Auto-refresh: a new batch from web-01 shows up without reloading the page.
    _push(fleet, "web-01", [_cpu_point(time.time(), idle=25.0)])
    expect(web.locator("td[data-metric='cpu'] .meter-value")).to_have_text("75.0%", timeout=12_000)
    expect(table.locator("tr[data-host='legacy-07'] [data-status]")).to_have_attribute(
        "data-status", "down"
    )
    expect(table.locator("tbody tr")).to_have_count(4)
    flag = table.locator("tr[data-host='batch-03'] .alert-flag")
    expect(flag).to_have_text("2 alerts")
    expect(flag).to_have_class(re.compile(r"\bsev-critical\b"))  # the worst of the two
    expect(page.locator(".tile-alerts .tile-value")).to_have_text("2")
    expect(page.locator("#alert-count")).to_have_text("2")

    # Filter by label, then sort by CPU descending: batch-03 (busiest) leads.
    page.locator("#host-filter").fill("env=prod")
    expect(table.locator("tbody tr")).to_have_count(3)
    page.locator("#host-filter").fill("")
    page.locator("button[data-sort='cpu']").click()
    expect(table.locator("tbody tr").first).to_have_attribute("data-host", "batch-03")
    page.screenshot(path=str(SHOTS / "fleetmon-overview.png"), full_page=True)

    web.get_by_role("link", name="web-01").click()
    expect(page).to_have_url(f"{fleet.url}/#/host/web-01")
    expect(page.locator("#host-name")).to_have_text("web-01")
    for chart, series in {"cpu": 3, "load": 3, "memory": 1, "disk": 2, "network": 2}.items():
        card = page.locator(f"[data-chart='{chart}']")
        expect(card).to_have_attribute("data-series", str(series))
        expect(card.locator("canvas")).to_have_count(1)
    expect(page.locator("[data-chart='diskio']")).to_have_attribute("data-series", "2")
    expect(page.locator("#process-table tbody tr").first).to_contain_text("postgres")
    expect(page.locator("#disks-table tbody tr")).to_have_count(2)
    page.screenshot(path=str(SHOTS / "fleetmon-host.png"), full_page=True)

    for label in ("6h", "30d"):
        page.get_by_role("button", name=label, exact=True).click()
        expect(page).to_have_url(f"{fleet.url}/#/host/web-01?range={label}")
        expect(page.get_by_role("button", name=label, exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        for chart in ("cpu", "memory", "disk"):
            expect(page.locator(f"[data-chart='{chart}']")).to_have_attribute("data-range", label)
        expect(page.locator("[data-chart='cpu']")).to_have_attribute("data-series", "3")
        expect(page.locator("[data-chart='disk']")).to_have_attribute("data-series", "2")
    # Counter rates need two rollup buckets; one closed hour of data gives a rate at 6h only.
    page.get_by_role("button", name="6h", exact=True).click()
    expect(page.locator("[data-chart='network']")).to_have_attribute("data-range", "6h")
    expect(page.locator("[data-chart='network']")).to_have_attribute("data-series", "2")

    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    active = page.locator("#active-alerts tbody tr")
    expect(active).to_have_count(2)
    expect(active.first).to_contain_text("High CPU")  # critical before the older warning
    expect(active.first).to_contain_text("batch-03")
    expect(active.first).to_contain_text("5m ago")
    expect(active.nth(1)).to_contain_text("Load high")
    expect(page.locator("#alert-history tbody tr")).to_have_count(2)
    expect(page.locator("#alert-history tbody tr").first).to_contain_text("pending → firing")
    page.screenshot(path=str(SHOTS / "fleetmon-alerts.png"), full_page=True)
    assert seen.errors == []

    # No secret ever reaches the page: neither the password nor any host key.
    html = page.content()
    assert PASSWORD not in html
    assert not [k for k in fleet.keys.values() if k in html]
    page.context.close()


def test_dark_scheme_and_expired_session(browser: Browser, fleet: Fleet) -> None:
    page, seen = _open(browser, fleet, scheme="dark")
    _login(page, fleet)
    expect(page.locator("#fleet-table tr[data-host='db-01']")).to_be_visible()
    page.goto("/#/host/db-01")
    expect(page.locator("[data-chart='cpu']")).to_have_attribute("data-series", "3")
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(13, 17, 23)"
    page.screenshot(path=str(SHOTS / "fleetmon-host-dark.png"), full_page=True)
    assert seen.errors == []
    # A token the server no longer accepts sends the user back to the login form.
    page.evaluate("sessionStorage.setItem('fleetmon.token', 'not-a-valid-token')")
    page.goto("/#/")
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("session has ended")
    page.context.close()


def test_phone_width_has_no_horizontal_overflow(browser: Browser, fleet: Fleet) -> None:
    page, seen = _open(browser, fleet, width=390)
    _login(page, fleet)
    expect(page.locator("#fleet-table tr[data-host='web-01']")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "fleetmon-overview-phone.png"), full_page=True)
    page.goto("/#/host/web-01")
    expect(page.locator("[data-chart='cpu']")).to_have_attribute("data-series", "3")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "fleetmon-host-phone.png"), full_page=True)
    assert seen.errors == []
    page.context.close()


def test_host_page_shows_losses_clock_and_completeness(browser: Browser, fleet: Fleet) -> None:
    """What was not stored, the clock offset and completeness, as the host page shows them."""
    key = {"Authorization": f"Bearer {fleet.keys['db-01']}"}
    agent = {
        "version": "1.1.0",
        "dropped_points": 120,
        "dropped": {"spool_full": 120},
        "quarantined_files": 1,
        "clock_offset_s": -900.0,
    }
    now = time.time()
    fresh = {"batch_id": str(uuid.uuid4()), "agent": agent, "points": [_cpu_point(now, 45.0)]}
    old = {
        "batch_id": str(uuid.uuid4()),
        "agent": agent,
        "points": [_cpu_point(now - 2 * 86400 + i, 45.0) for i in range(3)],
    }
    with httpx.Client(base_url=fleet.url, headers=key, timeout=10) as client:
        assert client.post("/api/v1/metrics/collect", json=fresh).status_code == 202
        refused = client.post("/api/v1/metrics/collect", json=old)
        assert refused.status_code == 422
        assert refused.json()["reason"] == "too_old"
    page, seen = _open(browser, fleet)
    _login(page, fleet)
    page.locator("#fleet-table").get_by_role("link", name="db-01").click()
    expect(page.locator("#host-name")).to_have_text("db-01")
    offset = page.locator("#clock-offset")
    expect(offset).to_have_text("\u2212900 s (agent)")  # a minus sign
    expect(offset).to_have_class(re.compile(r"\btext-crit\b"))
    drops = page.locator("#drops-table tbody tr")
    expect(drops).to_have_count(3)
    expect(drops.nth(0)).to_contain_text("dropped by the agent")
    expect(drops.nth(0)).to_contain_text("spool_full")
    expect(drops.nth(0)).to_contain_text("120")
    expect(drops.nth(1)).to_contain_text("spool files set aside")
    expect(drops.nth(2)).to_contain_text("refused by the server")
    expect(drops.nth(2)).to_contain_text("too_old")
    # An hour of samples every 30 s, all there (the minutes since seeding may lack one or
    # two); they arrived in one late batch (the seeding).
    expect(page.locator("#completeness-ratio")).to_have_text(re.compile(r"^(9[5-9]|100)\.\d%$"))
    expect(page.locator("#completeness")).to_contain_text("every 30 s")
    expect(page.locator("#completeness-table tr.late")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "fleetmon-host-delivery.png"), full_page=True)
    assert seen.errors == []
    page.context.close()
