"""The built-in web UI: the app shell at `/` and its static assets under `/ui/<build>/...`."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

WEB_PACKAGE = "fleetmon_api"
WEB_DIR = "web"
ASSET_PREFIX = "/ui"

# Self only: no inline script or style, no third-party origin, no framing, no plugins.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
# Asset URLs carry the build id, so a changed file gets a new URL: cache forever.
IMMUTABLE = "public, max-age=31536000, immutable"
# The shell is tiny and names the current build: always revalidate it.
REVALIDATE = "no-cache"

TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
SERVED_SUFFIXES = frozenset(TYPES)


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file held in memory with its validators."""

    body: bytes
    media_type: str
    etag: str
    # Compressed once at start-up, so serving costs nothing per request.
    gzipped: bytes | None = None


@dataclass(frozen=True, slots=True)
class WebBundle:
    """Every file of the web UI, the build id derived from their contents, and the shell."""

    build: str
    assets: dict[str, Asset]
    shell: Asset


def _walk(node: Traversable, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for child in node.iterdir():
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            files.update(_walk(child, rel + "/"))
        elif any(rel.endswith(suffix) for suffix in SERVED_SUFFIXES) or rel.endswith("LICENSE"):
            files[rel] = child.read_bytes()
    return files


def _media_type(path: str) -> str:
    for suffix, media in TYPES.items():
        if path.endswith(suffix):
            return media
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "text/plain; charset=utf-8"


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _asset(body: bytes, media_type: str) -> Asset:
    compressible = media_type.startswith(("text/", "application/json", "image/svg"))
    packed = gzip.compress(body, 9, mtime=0) if compressible and len(body) > 1024 else None
    return Asset(body, media_type, _etag(body), packed)


def load_bundle() -> WebBundle:
    """Read the packaged web/ directory once; the set of served paths is fixed at start-up."""
    files = _walk(resources.files(WEB_PACKAGE).joinpath(WEB_DIR))
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode())
        digest.update(hashlib.sha256(files[rel]).digest())
    build = digest.hexdigest()[:12]
    assets = {rel: _asset(body, _media_type(rel)) for rel, body in files.items()}
    assets.pop("index.html")
    shell_body = files["index.html"].replace(b"{{ASSET_BASE}}", f"{ASSET_PREFIX}/{build}".encode())
    shell = _asset(shell_body, TYPES[".html"])
    return WebBundle(build, assets, shell)


BUNDLE = load_bundle()

router = APIRouter(include_in_schema=False, tags=["ui"])


def _respond(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control, "ETag": asset.etag}
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def _not_found() -> Response:
    return Response(
        b'{"detail":"Not Found"}',
        status_code=404,
        media_type="application/json",
        headers=SECURITY_HEADERS,
    )


@router.get("/")
def app_shell(request: Request) -> Response:
    """The single-page app shell (hash-routed)."""
    return _respond(request, BUNDLE.shell, REVALIDATE)


@router.get("/ui")
@router.get("/ui/")
def ui_root() -> RedirectResponse:
    """Old bookmarks and typed URLs land on the shell."""
    return RedirectResponse("/", status_code=307)


@router.get("/hosts/{host}")
def host_link(host: str) -> RedirectResponse:
    """Links in alert notifications (`<public_url>/hosts/<name>`) open the host page."""
    return RedirectResponse(f"/#/host/{quote(host, safe='')}", status_code=307)


@router.get("/alerts")
def alerts_link() -> RedirectResponse:
    """A short, speakable URL for the alerts page."""
    return RedirectResponse("/#/alerts", status_code=307)


@router.get("/favicon.ico")
def favicon(request: Request) -> Response:
    """Browsers ask for it at the root whatever the page says."""
    asset = BUNDLE.assets.get("img/favicon.svg")
    if asset is None:
        return _not_found()
    return _respond(request, asset, "public, max-age=86400")


@router.get(ASSET_PREFIX + "/{build}/{path:path}")
def ui_asset(request: Request, build: str, path: str) -> Response:
    """A static asset; only files packaged under web/ are ever served (no path is joined)."""
    asset = BUNDLE.assets.get(path)
    if asset is None:
        return _not_found()
    # A page from an older build asking for an asset gets today's file, but must not pin it.
    cache = IMMUTABLE if build == BUNDLE.build else REVALIDATE
    return _respond(request, asset, cache)
