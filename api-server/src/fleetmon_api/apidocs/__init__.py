"""The interactive API docs at /docs: Swagger UI served from files vendored in this package
(swagger-ui-dist 5.35.0, Apache-2.0: see swagger-ui.LICENSE and swagger-ui.NOTICE), so the
page works on a network without internet access. FastAPI's own /docs loads it from a CDN."""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI, Request, Response

DOCS_URL = "/docs"
ASSETS = f"{DOCS_URL}/assets"
SWAGGER_VERSION = "5.35.0"

# Scripts and styles from this server only; Swagger UI sets style attributes from script
# and inlines its icons as data: URIs.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} - API docs</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css?v={version}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js?v={version}"></script>
  <script src="{assets}/init.js?v={version}"></script>
</body>
</html>
"""

# No inline script: the page's CSP forbids it. The OAuth2 password flow of /auth/token
# needs no redirect page.
_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true
});
"""

_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "init.js": "text/javascript; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


def _file(body: bytes, media_type: str) -> _File:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return _File(body, gzip.compress(body, 6, mtime=0), etag, media_type)


@functools.cache
def _asset(name: str) -> _File | None:
    """A vendored file, read and compressed on first use (most servers never show /docs)."""
    media_type = _TYPES.get(name)
    if media_type is None:
        return None
    body = (
        _INIT.encode()
        if name == "init.js"
        else resources.files(__name__).joinpath(name).read_bytes()
    )
    return _file(body, media_type)


def _respond(request: Request, f: _File, cache: str) -> Response:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": cache,
        "ETag": f.etag,
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == f.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(f.gzipped, media_type=f.media_type, headers=headers)
    return Response(f.body, media_type=f.media_type, headers=headers)


def install(app: FastAPI) -> None:
    """Serve /docs and its assets (create the app with docs_url=None, redoc_url=None)."""
    page = _file(
        _PAGE.format(title=app.title, assets=ASSETS, version=SWAGGER_VERSION).encode(),
        "text/html; charset=utf-8",
    )

    @app.get(DOCS_URL, include_in_schema=False)
    def docs(request: Request) -> Response:
        """Swagger UI for this server's OpenAPI document."""
        return _respond(request, page, "no-cache")

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    def docs_asset(request: Request, name: str) -> Response:
        """A vendored Swagger UI file; only the files listed in _TYPES are served."""
        f = _asset(name)
        if f is None:
            return Response(b'{"detail":"Not Found"}', 404, media_type="application/json")
        return _respond(request, f, "public, max-age=86400")
