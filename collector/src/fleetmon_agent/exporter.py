"""Pull mode: what the agent collects, served at /metrics under node_exporter's names.

Each collector declares, next to its fields, the Prometheus metric a field becomes (name,
HELP, TYPE, labels, scale): node_exporter's where node_exporter has one, `fleetmon_agent_*`
for the agent's own health. Fields without one are not served (they are pushed). Text
exposition format 0.0.4, stdlib http.server only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fleetmon_agent import __version__
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import LabelsOf, Measurement, Prom

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUILD_INFO = "fleetmon_agent_build_info"
# (metric name, rendered labels) -> value
Sample = tuple[str, str, float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))


class _Compiled:
    """One measurement's exposition: how points become labels, and which values to serve."""

    __slots__ = ("derived", "fields", "labels_of")

    def __init__(self, m: Measurement) -> None:
        self.labels_of: LabelsOf | None = m.labels_of
        self.fields = [(f.name, f.prom) for f in m.fields if f.prom is not None]
        self.derived = m.derived


def metric_types(measurements: Iterable[Measurement]) -> dict[str, tuple[str, str]]:
    """Every served metric's (HELP, TYPE); one metric declared twice must agree."""
    out: dict[str, tuple[str, str]] = {BUILD_INFO: ("The agent's version.", "gauge")}
    for m in measurements:
        proms = [f.prom for f in m.fields if f.prom is not None] + list(m.derived)
        for p in proms:
            known = out.setdefault(p.name, (p.help, p.type))
            if known != (p.help, p.type):
                raise ValueError(f"{p.name} is declared twice with different HELP or TYPE")
    return out


class LatestValues:
    """The latest exposition samples of every collector, replaced at each of its runs (so a
    disk unmounted or an interface removed stops being served)."""

    def __init__(self, measurements: Mapping[str, Measurement] | None = None) -> None:
        if measurements is None:
            from fleetmon_agent.collectors import measurements as declared

            measurements = declared()
        self._compiled = {name: _Compiled(m) for name, m in measurements.items()}
        self.types = metric_types(measurements.values())
        self._lock = threading.Lock()
        self._samples: dict[str, list[Sample]] = {}

    def update(self, collector: str, points: list[Point]) -> None:
        """Replace this collector's samples with those of its latest points."""
        samples: list[Sample] = []
        for p in points:
            c = self._compiled.get(p.measurement)
            if c is None:
                continue
            extra: Mapping[str, FieldValue] = p.extra or {}
            labels = c.labels_of(p.tags, extra) if c.labels_of is not None else {}
            if labels is None:
                continue
            for name, prom in c.fields:
                if prom.value is not None:
                    v: FieldValue | float | None = prom.value(p)
                else:
                    v = p.fields.get(name)
                    if v is None:
                        v = extra.get(name)
                self._add(samples, prom, labels, v)
            for prom in c.derived:
                self._add(samples, prom, labels, prom.value(p) if prom.value else None)
        with self._lock:
            self._samples[collector] = samples

    @staticmethod
    def _add(
        out: list[Sample], prom: Prom, labels: Mapping[str, str], v: FieldValue | float | None
    ) -> None:
        if v is None or isinstance(v, (str, bool)):
            return
        text = _labels({**labels, **prom.labels} if prom.labels else labels)
        out.append((prom.name, text, float(v) * prom.scale))

    def render(self) -> str:
        """The exposition text: HELP and TYPE once per metric, its samples together."""
        with self._lock:
            samples = [s for group in self._samples.values() for s in group]
        samples.append((BUILD_INFO, _labels({"version": __version__}), 1.0))
        samples.sort()
        lines: list[str] = []
        last = ""
        for name, labels, value in samples:
            if name != last:
                help_text, kind = self.types[name]
                lines.append(f"# HELP {name} {help_text}")
                lines.append(f"# TYPE {name} {kind}")
                last = name
            lines.append(f"{name}{{{labels}}} {value!r}" if labels else f"{name} {value!r}")
        return "\n".join(lines) + "\n"


def serve(latest: LatestValues, address: str, port: int) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; returns the server (shutdown() to stop).
    Raises OSError when the address cannot be bound (e.g. the port is in use)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "see /metrics")
                return
            body = latest.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds would flood the journal

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="exporter", daemon=True).start()
    return server
