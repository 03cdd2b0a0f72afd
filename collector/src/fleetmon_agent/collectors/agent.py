"""`fleetmon_agent`: the agent's own health (spool, drops, send errors, RSS, CPU, latencies)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fleetmon_agent import __version__
from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement, Prom, Tag
from fleetmon_agent.stats import AgentStats


class AgentOptions(CollectorOptions):
    """`collectors.agent`."""

    interval = every(15.0)


def _p(name: str, help: str, scale: float = 1.0) -> Prom:
    return Prom(f"fleetmon_agent_{name}", help, scale=scale)


def _labels(tags: Mapping[str, str], extra: Mapping[str, FieldValue]) -> dict[str, str]:
    # The version goes to fleetmon_agent_build_info, not onto every series.
    return {"collector": tags["collector"]} if "collector" in tags else {}


MS = 0.001
MEASUREMENT = Measurement(
    "fleetmon_agent",
    "The agent's own health: one point overall (tag version), one per collector",
    (
        Tag("version", "agent version (the overall point)"),
        Tag("collector", "collector name (the per-collector points)"),
    ),
    (
        Field("spool_files", int, GAUGE, "batches", "batches waiting in the spool",
              prom=_p("spool_files", "Batches waiting in the spool.")),
        Field("spool_bytes", int, GAUGE, "bytes", "size of the spool",
              prom=_p("spool_bytes", "Size of the spool in bytes.")),
        Field("dropped_points", int, COUNTER, "points", "points dropped (spool bounds, errors)",
              prom=_p("dropped_points_total", "Points dropped (spool bounds, spool errors).")),
        Field("send_errors", int, COUNTER, "requests", "requests that failed",
              prom=_p("send_errors_total", "Requests to the server that failed.")),
        Field("batches_sent", int, COUNTER, "requests", "requests the server accepted",
              prom=_p("batches_sent_total", "Requests the server accepted.")),
        Field("points_sent", int, COUNTER, "points", "points the server accepted",
              prom=_p("points_sent_total", "Points the server accepted.")),
        Field("batches_quarantined", int, COUNTER, "batches", "batches refused for good",
              prom=_p("batches_quarantined_total", "Batches the server refused for good.")),
        Field("last_send_latency_ms", float, GAUGE, "milliseconds", "last request's duration",
              prom=_p("last_send_duration_seconds", "Duration of the last request.", MS)),
        Field("rss_bytes", int, GAUGE, "bytes", "the agent's resident memory",
              prom=_p("resident_memory_bytes", "The agent's resident memory in bytes.")),
        Field("cpu_seconds", float, COUNTER, "seconds", "the agent's CPU time (user + system)",
              prom=_p("cpu_seconds_total", "The agent's CPU time (user + system).")),
        Field("collectors_disabled", int, GAUGE, "collectors", "disabled by the self-limits",
              prom=_p("collectors_disabled", "Collectors the self-limits disabled.")),
        Field("collect_ms_last", float, GAUGE, "milliseconds", "latest run's duration",
              prom=_p("collect_last_duration_seconds", "Duration of the latest run.", MS)),
        Field("collect_ms_p99", float, GAUGE, "milliseconds", "p99 run duration (last 1024)",
              prom=_p("collect_p99_duration_seconds", "p99 duration of the last 1024 runs.",
                      MS)),
        Field("collect_ms_max", float, GAUGE, "milliseconds", "slowest run (last 1024)",
              prom=_p("collect_max_duration_seconds", "Slowest of the last 1024 runs.", MS)),
        Field("collect_cpu_ms_p99", float, GAUGE, "milliseconds", "p99 CPU time of a run",
              prom=_p("collect_p99_cpu_seconds", "p99 CPU time of the last 1024 runs.", MS)),
        Field("collect_cpu_seconds", float, COUNTER, "seconds", "CPU time of all runs",
              prom=_p("collect_cpu_seconds_total", "CPU time of all runs.")),
        Field("samples", int, GAUGE, "runs", "runs in the latency window",
              prom=_p("collect_window_runs", "Runs in the latency window (at most 1024).")),
        Field("errors", int, COUNTER, "runs", "runs that failed",
              prom=_p("collect_errors_total", "Runs that failed.")),
        Field("points", int, COUNTER, "points", "points collected",
              prom=_p("collect_points_total", "Points collected.")),
    ),
    labels_of=_labels,
)  # fmt: skip


class AgentCollector:
    """One overall point plus one point per collector with its latency figures."""

    def __init__(self, ctx: Context, options: AgentOptions) -> None:
        self.ctx = ctx
        self._proc: Any = None

    def collect(self, now: float) -> list[Point]:
        """The self-metrics points."""
        stats: AgentStats = self.ctx.agent_stats or AgentStats()
        if self._proc is None:
            self._proc = self.ctx.ps().Process(os.getpid())
        t = self._proc.cpu_times()
        files, size, dropped = stats.spool_probe() if stats.spool_probe else (0, 0, 0)
        with stats.lock:
            fields: dict[str, FieldValue] = {
                "spool_files": files,
                "spool_bytes": size,
                "dropped_points": dropped,
                "send_errors": stats.send_errors,
                "batches_sent": stats.batches_sent,
                "points_sent": stats.points_sent,
                "batches_quarantined": stats.batches_quarantined,
                "last_send_latency_ms": round(stats.last_send_latency * 1000.0, 3),
                "rss_bytes": int(self._proc.memory_info().rss),
                "cpu_seconds": round(t.user + t.system, 3),
                "collectors_disabled": len(stats.disabled),
            }
            rings = [(name, ring) for name, ring in sorted(stats.latencies.items())]
            points = [Point("fleetmon_agent", now, {"version": __version__}, fields)]
            for name, ring in rings:
                per: dict[str, FieldValue] = {
                    "collect_ms_last": round(ring.samples[-1] * 1000.0, 3) if ring.samples else 0.0,
                    "collect_ms_p99": round(ring.percentile(99) * 1000.0, 3),
                    "collect_ms_max": round(max(ring.samples, default=0.0) * 1000.0, 3),
                    "collect_cpu_ms_p99": round(ring.percentile(99, cpu=True) * 1000.0, 3),
                    "collect_cpu_seconds": round(ring.cpu_total, 4),
                    "samples": len(ring.samples),
                    "errors": ring.errors,
                    "points": ring.points,
                }
                points.append(Point("fleetmon_agent", now, {"collector": name}, per))
        return points


def create(ctx: Context, options: AgentOptions) -> AgentCollector:
    """Build the collector."""
    return AgentCollector(ctx, options)


SPEC = CollectorSpec(
    "agent", "the agent's own health (measurement fleetmon_agent)", AgentOptions, create,
    (MEASUREMENT,),
)  # fmt: skip
