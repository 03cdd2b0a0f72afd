"""The web UI is written against the API's published contract, and its JavaScript is linted.

`tsc --checkJs --strict` checks every module against types generated from /openapi.json
(web/js/types/api.d.ts), so a field, path, parameter or body the schema does not have is a
type error. The Node tools come from tests/web/package.json (`make test-deps` installs
them with `npm ci`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import server_missing
from tests.support.servers import ServerMissing
from tests.web import openapi_ts

WEB_TESTS = Path(__file__).resolve().parent
ROOT = WEB_TESTS.parents[1]
JS = ROOT / "api-server" / "src" / "fleetmon_api" / "web" / "js"
BIN = WEB_TESTS / "node_modules" / ".bin"


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists() or shutil.which("node") is None:
        server_missing(ServerMissing(f"{name} (run `make test-deps`: npm ci in tests/web)"))
    return str(path)


def _tsc(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("tsc"), "-p", str(project)], capture_output=True, text=True, timeout=240
    )


def test_committed_types_match_the_openapi_document() -> None:
    assert openapi_ts.OUT.read_text() == openapi_ts.render(openapi_ts.openapi()), (
        "web/js/types/api.d.ts is stale: run `python -m tests.web.openapi_ts`"
    )


def test_ui_type_checks_against_the_api_schema() -> None:
    run = _tsc(WEB_TESTS / "tsconfig.json")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


# (module, expression, replacement, what tsc must report) — each a mistake the old UI made or
# could make: a field the server never sends, a wrapper the answer does not have, a typo,
# a path the API does not serve.
MUTATIONS = [
    ("model.js", "agentVersion: r.agent_version,", "agentVersion: r.hostname,",
     "Property 'hostname' does not exist"),
    ("views/alerts.js", "events = newest;", "events = newest.events;",
     "Property 'events' does not exist"),
    ("views/rules.js", "const n = p.matching;", "const n = p.matches;",
     "Property 'matches' does not exist"),
    ("views/silences.js", '"/api/v1/alerts/silences/{silence_id}/expire"',
     '"/api/v1/alerts/silence/{silence_id}/expire"',
     '"/api/v1/alerts/silence/{silence_id}/expire"'),
]  # fmt: skip


def test_reading_what_the_schema_lacks_fails(tmp_path: Path) -> None:
    """One copy of the UI carrying every mistake above: tsc must report each, in its module."""
    copy = tmp_path / "js"
    shutil.copytree(JS, copy)
    for module, old, new, _ in MUTATIONS:
        path = copy / module
        text = path.read_text()
        assert old in text, f"{module} no longer contains {old!r}"
        path.write_text(text.replace(old, new, 1))
    project = tmp_path / "tsconfig.json"
    project.write_text(
        json.dumps(
            {
                "extends": str(WEB_TESTS / "tsconfig.json"),
                "include": [
                    f"{copy}/**/*.js",
                    f"{copy}/**/*.d.ts",
                    str(WEB_TESTS / "globals.d.ts"),
                ],
            }
        )
    )
    run = _tsc(project)
    assert run.returncode != 0, "tsc accepted reads the schema does not allow"
    errors = [line for line in run.stdout.splitlines() if "error TS" in line]
    for module, _, _, message in MUTATIONS:
        assert [e for e in errors if module in e and message in e], (module, run.stdout[-3000:])
    assert len(errors) == len(MUTATIONS), run.stdout[-3000:]


def test_javascript_lint_is_clean() -> None:
    run = subprocess.run(
        [
            _tool("eslint"),
            "--max-warnings",
            "0",
            "-c",
            str(WEB_TESTS / "eslint.config.js"),
            str(JS),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_lint_rejects_html_injection(tmp_path: Path) -> None:
    bad = tmp_path / "bad.js"
    bad.write_text("export function f(el, name) {\n  el.innerHTML = name;\n}\n")
    run = subprocess.run(
        [_tool("eslint"), "-c", str(WEB_TESTS / "eslint.config.js"), str(bad)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "text only, never HTML" in run.stdout
