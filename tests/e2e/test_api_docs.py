"""/docs works with no internet: Swagger UI comes from the API itself (it was a blank page
without a CDN), under a CSP that forbids anything else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route, expect, sync_playwright

from tests.api.harness import ApiServer, running_api

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with running_api(f"sqlite:///{tmp_path / 'm.db'}", f"sqlite:///{tmp_path / 'p.db'}") as s:
        yield s


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def test_swagger_ui_renders_offline(api: ApiServer, browser: Browser) -> None:
    page = browser.new_page()
    left: list[str] = []
    errors: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # "no internet": anything else fails, as it would on an isolated network
            left.append(route.request.url)
            route.abort()

    page.route("**/*", loopback_only)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{api.url}/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("/api/v1/metrics/collect", exact=True)).to_be_visible()
    assert left == []
    assert errors == []
    page.close()


def test_docs_assets_are_the_vendored_files_only(api: ApiServer) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # no absolute URL to anywhere
    bundle = api.client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 500_000
    assert api.client.get("/docs/assets/../settings.py").status_code == 404
    assert api.client.get("/docs/assets/__init__.py").status_code == 404
    assert api.client.get("/redoc").status_code == 404  # not kept: it would need a CDN too
