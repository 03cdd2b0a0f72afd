"""The agent distribution this server hands to installers: /install.sh, the agent's wheels and
their dependencies (a flat page for `pip --find-links`), the systemd unit and the example
config. A monitored server then needs Python 3.9+ and this server, no package index.

The files are built by deploy/agent-dist.sh (at image build time; `make agent-dist` in a
checkout) into `agent_dist_dir`. Only names found in that directory that match a strict
pattern are served; no part of a request is joined into a path.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from fleetmon_api.errors import ApiError
from fleetmon_api.state import AppState

INSTALL_SCRIPT = "install.sh"
# Served from the distribution's top level, with their media types.
FILES = {
    INSTALL_SCRIPT: "text/x-shellscript; charset=utf-8",
    "fleetmon-agent.service": "text/plain; charset=utf-8",
    "agent.example.yaml": "text/plain; charset=utf-8",
    "pip.whl": "application/zip",
}
WHEELS = "wheels"
WHEEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*\.whl\Z")
# Wheels never change under one name; the script and config templates may, per upgrade.
WHEEL_CACHE = "public, max-age=86400"
FILE_CACHE = "no-cache"

router = APIRouter(tags=["agent install"])


class DistributionMissing(ApiError):
    """The distribution (or one file of it) is not on this server."""

    def __init__(self, what: str) -> None:
        super().__init__(
            404,
            f"{what} is not available: the agent distribution has not been built on this "
            "server (deploy/agent-dist.sh; see docs/operations.md, 'Installing agents')",
        )


def _dist(request: Request) -> Path:
    state: AppState = request.app.state.fleetmon
    directory = state.settings.agent_dist_dir
    assert directory is not None  # filled in by the settings
    return directory


def wheel_names(dist: Path) -> list[str]:
    """The wheel files of the distribution, sorted; none if it is not built."""
    try:
        names = [p.name for p in (dist / WHEELS).iterdir() if p.is_file()]
    except OSError:
        return []
    return sorted(n for n in names if WHEEL_NAME.fullmatch(n))


def describe(dist: Path) -> tuple[str, bool]:
    """A short report on the distribution for the CLI, and whether installs can work."""
    wheels = wheel_names(dist)
    missing = [name for name in FILES if not (dist / name).is_file()]
    agents = [w for w in wheels if w.startswith("fleetmon_agent-")]
    lines = [f"agent distribution: {dist}"]
    lines.append(f"  wheels: {len(wheels)} ({', '.join(agents) or 'no fleetmon_agent wheel'})")
    lines.append(f"  missing: {', '.join(missing)}" if missing else "  files: complete")
    ok = bool(agents) and not missing
    if not ok:
        lines.append("  build it with: deploy/agent-dist.sh " + str(dist))
    return "\n".join(lines), ok


@router.get(
    "/install.sh",
    summary="The agent install script (curl -fsSL <server>/install.sh | sudo sh -s -- --url ...)",
    response_class=Response,
    responses={200: {"content": {"text/x-shellscript": {}}}, 404: {"description": "Not built"}},
)
def install_script(request: Request) -> Response:
    """The installer; it fetches everything else from this server."""
    return _file(_dist(request), INSTALL_SCRIPT)


@router.get("/agent/wheels/", summary="Index of the agent's wheels (pip --find-links)")
def wheel_index(request: Request) -> Response:
    """A flat HTML page of links, the format `pip --find-links <url>` reads."""
    names = wheel_names(_dist(request))
    if not names:
        raise DistributionMissing("the agent's wheels")
    links = "\n".join(
        f'<a href="{html.escape(quote(n), quote=True)}">{html.escape(n)}</a><br>' for n in names
    )
    body = f"<!doctype html>\n<html><body>\n{links}\n</body></html>\n"
    return Response(
        body, media_type="text/html; charset=utf-8", headers={"Cache-Control": FILE_CACHE}
    )


@router.get("/agent/wheels/{name}", summary="One wheel of the agent or a dependency")
def wheel(request: Request, name: str) -> Response:
    """A wheel listed in the index."""
    dist = _dist(request)
    if name not in wheel_names(dist):
        raise DistributionMissing(f"wheel {name!r}")
    return FileResponse(
        dist / WHEELS / name,
        media_type="application/zip",
        headers={"Cache-Control": WHEEL_CACHE},
    )


@router.get("/agent/{name}", summary="The systemd unit, the example config or pip's wheel")
def agent_file(request: Request, name: str) -> Response:
    """One of the distribution's top-level files."""
    if name not in FILES:
        raise ApiError(404, f"no agent file {name!r}; files: {', '.join(sorted(FILES))}")
    return _file(_dist(request), name)


def _file(dist: Path, name: str) -> Response:
    path = dist / name
    if not path.is_file():
        raise DistributionMissing(name)
    return FileResponse(path, media_type=FILES[name], headers={"Cache-Control": FILE_CACHE})
