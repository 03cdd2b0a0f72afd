"""The web UI's alerting pages in a real browser (Chromium via Playwright) against a real API
server and a real alert worker process (`fleetmon-alerts run`), with real ingested data.

Screenshots of every page are kept as artifacts in $FLEETMON_UI_SHOTS, or else in
`build/ui-shots/` in the working tree (tests/support/shots.py).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from fleetmon_api.app import create_app
from fleetmon_api.security import hash_password, hash_secret, new_host_key
from fleetmon_api.settings import Settings
from fleetmon_db import migrate
from fleetmon_db.db import make_engine, make_sessionmaker
from fleetmon_db.models import Host, HostKey, Role, User
from tests.support.receiver import Receiver
from tests.support.servers import free_port, stop_process, wait_http
from tests.support.shots import shots_dir

CHROMIUM = "/usr/bin/chromium"
ADMIN_PASSWORD = "admin password for the alerting pages"
VIEWER_PASSWORD = "viewer password for the alerting pages"
FLEETMON_ALERTS = str(Path(sys.executable).parent / "fleetmon-alerts")
# Host -> mem.used_percent it reports: one hot host, one calm one.
MEMORY = {"web-01": 91.0, "db-01": 42.0}


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots go (see the module docstring)."""
    return shots_dir()


@dataclass
class Site:
    """A running API server, an alert worker process, and a webhook receiver."""

    url: str
    keys: dict[str, str]
    receiver: Receiver
    client: httpx.Client
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str = "admin") -> dict[str, str]:
        """Authorization header for `admin` or `ops` (viewer)."""
        if user not in self.tokens:
            pw = ADMIN_PASSWORD if user == "admin" else VIEWER_PASSWORD
            r = self.client.post("/api/v1/auth/token", data={"username": user, "password": pw})
            assert r.status_code == 200, r.text
            self.tokens[user] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def push_memory(self) -> None:
        """Every host reports its memory use for the last minute (the worker's window)."""
        now = time.time()
        for host, used in MEMORY.items():
            points = [
                {
                    "measurement": "mem",
                    "time": now - s,
                    "tags": {},
                    "fields": {"used_percent": used},
                }
                for s in (40, 30, 20, 10, 0)
            ]
            body = {"batch_id": str(uuid.uuid4()), "agent": {"version": "1.0.0"}, "points": points}
            r = self.client.post(
                "/api/v1/metrics/collect",
                json=body,
                headers={"Authorization": f"Bearer {self.keys[host]}"},
            )
            assert r.status_code == 202, r.text


def _seed(db_url: str) -> dict[str, str]:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    keys: dict[str, str] = {}
    with make_sessionmaker(engine).begin() as db:
        db.add(
            User(
                username="admin", password_hash=hash_password(ADMIN_PASSWORD), role=Role.ADMIN.value
            )
        )
        db.add(
            User(
                username="ops", password_hash=hash_password(VIEWER_PASSWORD), role=Role.VIEWER.value
            )
        )
        for name in MEMORY:
            host = Host(name=name, labels={"role": name.split("-")[0]})
            db.add(host)
            db.flush()
            key = new_host_key()
            db.add(HostKey(host_id=host.id, prefix=key.prefix, key_hash=hash_secret(key.value)))
            keys[name] = key.value
    engine.dispose()
    return keys


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """API (uvicorn) and `fleetmon-alerts run` on one SQLite data directory."""
    data = tmp_path_factory.mktemp("web-alerting")
    settings = Settings(
        data_dir=data, rollup_interval_s=0, presence_flush_s=0.2, secret_key=secrets.token_hex(32)
    )
    keys = _seed(settings.database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, name="alerting-uvicorn", daemon=True)
    thread.start()
    env = dict(
        os.environ,
        FLEETMON_DATA_DIR=str(data),
        FLEETMON_DATABASE_URL=settings.database_url,
        FLEETMON_STORE_URL=settings.store_url,
        FLEETMON_ALERTS_INTERVAL="1",
        FLEETMON_ALERTS_RETRY_BASE="0.2",
        FLEETMON_PUBLIC_URL=url,
    )
    log = (data / "alerts.log").open("wb")
    worker = subprocess.Popen(
        [FLEETMON_ALERTS, "run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    receiver = Receiver().start()
    client = httpx.Client(base_url=url, timeout=30)
    try:
        wait_http(f"{url}/health")
        s = Site(url, keys, receiver, client)
        s.push_memory()
        # The worker installs the default rules when it starts.
        deadline = time.monotonic() + 30
        while not client.get("/api/v1/alerts/rules", headers=s.auth()).json():
            assert time.monotonic() < deadline, (data / "alerts.log").read_text()
            assert worker.poll() is None, (data / "alerts.log").read_text()
            time.sleep(0.2)
        yield s
    finally:
        client.close()
        receiver.stop()
        stop_process(worker)
        log.close()
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


@dataclass
class Console:
    """Console errors and page errors one page produced."""

    errors: list[str] = field(default_factory=list)


def _page(
    browser: Browser, site: Site, user: str = "admin", width: int = 1440
) -> tuple[Page, Console]:
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=site.url)
    page = context.new_page()
    seen = Console()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            seen.errors.append(f"console {msg.type}: {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.errors.append(f"page error: {exc}"))
    page.on("dialog", lambda d: d.accept())
    page.goto("/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(ADMIN_PASSWORD if user == "admin" else VIEWER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#whoami")).to_contain_text(user)
    return page, seen


def _rule_id(site: Site, name: str) -> int:
    rules = site.client.get("/api/v1/alerts/rules", headers=site.auth()).json()
    return int(next(r["id"] for r in rules if r["name"] == name))


def test_rules_list_create_with_preview_and_disable(
    browser: Browser, site: Site, shots: Path
) -> None:
    page, seen = _page(browser, site)
    page.get_by_role("link", name="Rules", exact=True).click()
    table = page.locator("#rules-table")
    expect(table.locator("tr[data-rule='CPU usage high']")).to_be_visible()
    expect(table.locator("tr[data-rule='Host down'] td.mono")).to_have_text("no data for 2m")
    page.screenshot(path=str(shots / "rules-list.png"), full_page=True)

    page.locator("#new-rule").click()
    expect(page).to_have_url(f"{site.url}/#/rules/new")
    page.get_by_label("Name").fill("Memory above 85")
    page.get_by_label("Metric").fill("mem.used_percent")
    page.get_by_label("Threshold").fill("85")
    page.get_by_label("Over the last").fill("1m")
    page.locator("#rule-preview").click()
    verdict = page.locator("#preview-verdict")
    expect(verdict).to_have_text("Would fire on 1 host now (2 hosts reporting).")
    expect(page.locator("#preview-hosts tr[data-host='web-01'] td").nth(1)).to_have_text("holds")
    expect(page.locator("#preview-hosts tr[data-host='db-01'] td").nth(1)).to_have_text("clear")
    # With a `for`, the verdict says they would be pending first.
    page.get_by_label("For", exact=True).fill("5m")
    page.locator("#rule-preview").click()
    expect(verdict).to_contain_text("would be pending, and fire if it still holds after 5m")
    page.screenshot(path=str(shots / "rule-new-preview.png"), full_page=True)
    # A mistake is named before anything is sent.
    page.get_by_label("Over the last").fill("soon")
    page.locator("#rule-save").click()
    expect(page.locator("#rule-error")).to_contain_text("Over the last: “soon” is not a duration")
    page.get_by_label("Over the last").fill("1m")
    page.locator("#rule-save").click()
    expect(page).to_have_url(f"{site.url}/#/rules")
    row = table.locator("tr[data-rule='Memory above 85']")
    expect(row.locator("td.mono")).to_have_text("avg mem.used_percent > 85.00 over 1m, for 5m")

    # Disable in place: the API has it disabled.
    row.get_by_role("checkbox").uncheck()
    expect(page.locator("#toast")).to_have_text("Memory above 85 disabled")
    rid = _rule_id(site, "Memory above 85")
    got = site.client.get(f"/api/v1/alerts/rules/{rid}", headers=site.auth()).json()
    assert got["enabled"] is False
    assert got["for_s"] == 300
    assert got["window_s"] == 60
    # Edit: the form shows what was saved.
    row.get_by_role("link", name="Memory above 85").click()
    expect(page.get_by_label("Name")).to_have_value("Memory above 85")
    expect(page.get_by_label("For", exact=True)).to_have_value("5m")
    expect(page.locator("#r-enabled")).not_to_be_checked()
    page.screenshot(path=str(shots / "rule-edit.png"), full_page=True)
    assert seen.errors == []
    page.context.close()


def test_channel_create_test_and_edit_keeps_the_secret(
    browser: Browser, site: Site, shots: Path
) -> None:
    page, seen = _page(browser, site)
    page.get_by_role("link", name="Channels").click()
    page.locator("#new-channel").click()
    page.get_by_label("Name").fill("ops-hook")
    page.get_by_label("Kind").select_option("webhook")
    secret_url = f"{site.receiver.url}/hook/s3cr3t-path"
    page.get_by_label("url").fill(secret_url)
    expect(page.get_by_label("url")).to_have_attribute("type", "password")
    page.locator("#channel-save").click()
    row = page.locator("#channels-table tr[data-channel='ops-hook']")
    expect(row).to_contain_text("url (secret, set)")
    assert "s3cr3t-path" not in page.content()

    row.get_by_role("button", name="Test ops-hook").click()
    expect(row.locator(".test-state")).to_have_text("Sent ✓", timeout=20_000)
    (got,) = site.receiver.wait_for(1)
    assert got.path == "/hook/s3cr3t-path"
    assert got.json()["rule"] == "Test notification"
    page.screenshot(path=str(shots / "channels.png"), full_page=True)

    # Edit without retyping the secret: it is kept, and the channel still delivers.
    row.get_by_role("button", name="Edit ops-hook").click()
    expect(page.get_by_label("url")).to_have_value("")
    expect(page.get_by_label("url")).to_have_attribute(
        "placeholder", "stored — leave blank to keep"
    )
    page.get_by_label("From severity").select_option("warning")
    page.screenshot(path=str(shots / "channel-edit.png"), full_page=True)
    page.locator("#channel-save").click()
    expect(row.locator("td").nth(3)).to_have_text("warning")
    row.get_by_role("button", name="Test ops-hook").click()
    expect(row.locator(".test-state")).to_have_text("Sent ✓", timeout=20_000)
    site.receiver.wait_for(2)
    assert "s3cr3t-path" not in page.content()
    assert seen.errors == []
    page.context.close()


def test_channel_test_failure_is_shown(browser: Browser, site: Site) -> None:
    r = site.client.post(
        "/api/v1/alerts/channels",
        json={
            "name": "gone-hook",
            "kind": "webhook",
            "config": {"url": f"{site.receiver.url}/gone"},
        },
        headers=site.auth(),
    )
    assert r.status_code == 201, r.text
    site.receiver.responder = lambda n, doc: (410, {}) if doc.get("rule") else None
    try:
        page, _ = _page(browser, site)
        page.goto("/#/channels")
        row = page.locator("#channels-table tr[data-channel='gone-hook']")
        row.get_by_role("button", name="Test gone-hook").click()
        expect(row.locator(".test-state")).to_contain_text("Failed: ", timeout=20_000)
        expect(row.locator(".test-state")).to_contain_text("410")
        page.context.close()
    finally:
        site.receiver.responder = None


def test_notification_preview_per_channel(browser: Browser, site: Site, shots: Path) -> None:
    secret_url = f"{site.receiver.url}/slack/s3cr3t-hook"
    r = site.client.post(
        "/api/v1/alerts/channels",
        # Disabled: previewed, never sent (a preview works for any channel).
        json={
            "name": "team-slack",
            "kind": "slack",
            "config": {"webhook_url": secret_url},
            "enabled": False,
        },
        headers=site.auth(),
    )
    assert r.status_code == 201, r.text
    rule = {
        "name": "Memory hot (preview)",
        "metric": "mem.used_percent",
        "aggregate": "avg",
        "window_s": 120,
        "comparison": ">",
        "threshold": 80,
        "severity": "critical",
        "channels": ["team-slack"],
        "annotations": {"summary": "$host uses $value % of its memory"},
    }
    r = site.client.post("/api/v1/alerts/rules", json=rule, headers=site.auth())
    assert r.status_code == 201, r.text
    site.push_memory()
    deadline = time.monotonic() + 20
    while not any(
        a["rule_name"] == rule["name"]
        for a in site.client.get("/api/v1/alerts/active", headers=site.auth()).json()
    ):
        assert time.monotonic() < deadline, "the worker did not fire the rule"
        time.sleep(0.3)
    page, seen = _page(browser, site)
    page.goto("/#/channels")
    page.locator("#channels-table").get_by_role("button", name="Preview team-slack").click()
    panel = page.locator("#channel-preview")
    body = page.locator("#preview-body")
    # A sample alert, as Slack would receive it: people's times, the webhook URL nowhere.
    expect(panel).to_have_attribute("data-source", "sample")
    expect(body).to_contain_text('"type": "header"')
    expect(body).to_contain_text("*Firing since*")
    expect(body).to_contain_text("(35 min)")
    expect(page.locator("#preview-title")).to_contain_text("[FIRING] Test notification")
    page.get_by_label("Notification").select_option("resolved")
    expect(panel).to_have_attribute("data-status", "resolved")
    expect(body).to_contain_text("*Resolved at*")
    # The actual alert: its host, its value and its summary, as the worker renders them.
    page.get_by_label("Notification").select_option("firing")
    page.get_by_label("Alert").select_option(label="Memory hot (preview) on web-01 (firing)")
    expect(panel).to_have_attribute("data-source", "alert")
    expect(page.locator("#preview-title")).to_have_text(
        "[FIRING] Memory hot (preview) on web-01: 91.00 (> 80)"
    )
    expect(body).to_contain_text("web-01 uses 91.00 % of its memory")
    expect(panel).to_have_attribute("data-would-send", "false")
    expect(page.locator("#preview-meta")).to_contain_text(
        "The worker would not send it here: the channel is disabled."
    )
    page.screenshot(path=str(shots / "channel-preview.png"), full_page=True)
    assert "s3cr3t-hook" not in page.content()
    assert site.receiver.received("/slack/s3cr3t-hook") == []  # a preview sends nothing
    assert seen.errors == []
    page.context.close()


def test_silence_an_alert_then_expire_it(browser: Browser, site: Site, shots: Path) -> None:
    body = {
        "name": "Memory hot (silence test)",
        "metric": "mem.used_percent",
        "aggregate": "avg",
        "window_s": 120,
        "comparison": ">",
        "threshold": 80,
        "severity": "critical",
        "channels": [],
    }
    r = site.client.post("/api/v1/alerts/rules", json=body, headers=site.auth())
    assert r.status_code == 201, r.text
    site.push_memory()
    page, seen = _page(browser, site)
    page.get_by_role("link", name="Alerts").first.click()
    alert = page.locator(
        "#active-alerts tr[data-rule='Memory hot (silence test)'][data-host='web-01']"
    )
    expect(alert).to_be_visible(timeout=20_000)
    alert.get_by_role("link", name="Silence Memory hot (silence test) on web-01").click()
    expect(page.locator("#silence-form")).to_be_visible()
    expect(page.get_by_label("Host")).to_have_value("web-01")
    expect(page.get_by_label("Rule")).to_have_value(str(r.json()["id"]))
    page.get_by_label("For").fill("2h")
    page.get_by_label("Comment").fill("kernel upgrade")
    page.locator("#silence-save").click()
    row = page.locator("#silences-table tr[data-state='active']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("rule Memory hot (silence test) and host web-01")
    expect(row).to_contain_text("kernel upgrade")
    expect(row).to_contain_text(re.compile(r"ends in (1h 59m|2h 0m)"))
    page.screenshot(path=str(shots / "silences.png"), full_page=True)

    row.get_by_role("button", name="Expire silence").click()
    expect(page.locator("#silences-table tr[data-state='active']")).to_have_count(0)
    page.locator("#show-expired").check()
    expired = page.locator("#silences-table tr[data-state='expired']")
    expect(expired).to_have_count(1)
    expect(expired).to_contain_text("kernel upgrade")
    page.screenshot(path=str(shots / "silences-expired.png"), full_page=True)
    silences = site.client.get(
        "/api/v1/alerts/silences", params={"include_expired": "true"}, headers=site.auth()
    ).json()
    assert [s["active"] for s in silences] == [False]
    assert seen.errors == []
    page.context.close()


def test_alert_history_filters(browser: Browser, site: Site, shots: Path) -> None:
    site.push_memory()
    deadline = time.monotonic() + 20
    while not site.client.get(
        "/api/v1/alerts/history",
        params={"host": "web-01", "to_status": "firing"},
        headers=site.auth(),
    ).json():
        assert time.monotonic() < deadline
        time.sleep(0.3)
    page, seen = _page(browser, site)
    page.goto("/#/alerts")
    history = page.locator("#alert-history tbody tr")
    expect(history.first).to_be_visible()
    page.locator("#f-host").fill("web-01")
    page.locator("#f-state").select_option("firing")
    page.locator("#f-since").select_option("1h")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(f"{site.url}/#/alerts?host=web-01&to_status=firing&since=1h")
    expect(history.first).to_contain_text("web-01")
    for text in history.all_inner_texts():
        assert "web-01" in text
        assert "→ firing" in text
    page.screenshot(path=str(shots / "alerts-history-filtered.png"), full_page=True)
    # The filters are in the URL: a reload shows the same view.
    page.reload()
    expect(page.locator("#f-host")).to_have_value("web-01")
    expect(page.locator("#f-state")).to_have_value("firing")
    page.locator("#f-host").fill("no-such-host")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#alert-history")).to_have_count(0)
    expect(page.get_by_text("No state change matches.")).to_be_visible()
    page.locator("#f-clear").click()
    expect(page).to_have_url(f"{site.url}/#/alerts")
    expect(history.first).to_be_visible()
    assert seen.errors == []
    page.context.close()


def test_viewer_reads_but_cannot_change(browser: Browser, site: Site, shots: Path) -> None:
    page, seen = _page(browser, site, user="ops")
    expect(page.locator("[data-nav='channels']")).to_be_hidden()
    page.get_by_role("link", name="Rules", exact=True).click()
    expect(page.locator("#rules-table tr[data-rule='CPU usage high']")).to_be_visible()
    expect(page.locator("#new-rule")).to_have_count(0)
    expect(page.locator("#rules-table input[type='checkbox']").first).to_be_disabled()
    page.locator("#rules-table tr[data-rule='Memory usage high'] a").first.click()
    expect(page.get_by_label("Name")).to_be_disabled()
    expect(page.locator("#rule-save")).to_have_count(0)
    # Viewers may still try a rule against current data.
    page.locator("#rule-preview").click()
    expect(page.locator("#preview-verdict")).to_be_visible()
    page.screenshot(path=str(shots / "rule-viewer.png"), full_page=True)
    page.goto("/#/channels")
    expect(page.get_by_text("only admins can see or change them")).to_be_visible()
    page.goto("/#/silences")
    expect(page.get_by_role("heading", name="Silences")).to_be_visible()
    expect(page.locator("#new-silence")).to_have_count(0)
    page.goto("/#/alerts")
    expect(page.locator("#active-alerts")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("link", name="Silence…")).to_have_count(0)
    page.screenshot(path=str(shots / "alerts-viewer.png"), full_page=True)
    assert seen.errors == []
    page.context.close()


def test_pages_fit_a_phone(browser: Browser, site: Site, shots: Path) -> None:
    page, seen = _page(browser, site, width=390)
    for route, ready in (
        ("#/rules", "#rules-table"),
        ("#/rules/new", "#rule-form"),
        ("#/channels", "#new-channel"),
        ("#/silences", "#new-silence"),
        ("#/alerts", "#history-filters"),
    ):
        page.goto(f"/{route}")
        expect(page.locator(ready)).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        # Wide tables scroll inside their card; the page itself never scrolls sideways.
        assert width <= 390, (route, width)
        page.screenshot(
            path=str(shots / f"phone-{route.strip('#/').replace('/', '-')}.png"), full_page=True
        )
    assert seen.errors == []
    page.context.close()
