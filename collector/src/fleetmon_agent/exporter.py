"""Pull mode: the latest values in Prometheus text exposition format (stdlib http.server)."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fleetmon_agent.points import Point

_BAD = re.compile(r"[^a-zA-Z0-9_]")
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class LatestValues:
    """The last numeric value of every series, updated as points are collected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[SeriesKey, float] = {}

    def update(self, points: list[Point]) -> None:
        """Remember the numeric fields of these points."""
        with self._lock:
            for p in points:
                tags = tuple(sorted(p.tags.items()))
                for field, value in p.fields.items():
                    if isinstance(value, (int, float)):
                        name = _BAD.sub("_", f"fleetmon_{p.measurement}_{field}")
                        self._values[(name, tags)] = float(value)

    def render(self) -> str:
        """The exposition text."""
        with self._lock:
            items = sorted(self._values.items())
        lines: list[str] = []
        last = ""
        for (name, tags), value in items:
            if name != last:
                lines.append(f"# TYPE {name} untyped")
                last = name
            labels = ",".join(f'{_BAD.sub("_", k)}="{_escape(v)}"' for k, v in tags)
            lines.append(f"{name}{{{labels}}} {value!r}" if labels else f"{name} {value!r}")
        return "\n".join(lines) + "\n"


def serve(latest: LatestValues, address: str, port: int) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; returns the server (shutdown() to stop)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = latest.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds would flood the journal

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="exporter", daemon=True).start()
    return server
