"""`fleetmon_agent`: the agent's own health (spool, drops, send errors, RSS, CPU, latencies)."""

from __future__ import annotations

import os
from typing import Any

from fleetmon_agent import __version__
from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement, Tag
from fleetmon_agent.stats import AgentStats


class AgentOptions(CollectorOptions):
    """`collectors.agent`."""

    interval = every(15.0)


MEASUREMENT = Measurement(
    "fleetmon_agent",
    "The agent's own health: one point overall (tag version), one per collector",
    (
        Tag("version", "agent version (the overall point)"),
        Tag("collector", "collector name (the per-collector points)"),
    ),
    (
        Field("spool_files", int, GAUGE, "batches", "batches waiting in the spool"),
        Field("spool_bytes", int, GAUGE, "bytes", "size of the spool"),
        Field("dropped_points", int, COUNTER, "points", "points dropped (spool bounds, errors)"),
        Field("send_errors", int, COUNTER, "requests", "requests that failed"),
        Field("batches_sent", int, COUNTER, "requests", "requests the server accepted"),
        Field("points_sent", int, COUNTER, "points", "points the server accepted"),
        Field("batches_quarantined", int, COUNTER, "batches", "batches refused for good"),
        Field("last_send_latency_ms", float, GAUGE, "milliseconds", "last request's duration"),
        Field("rss_bytes", int, GAUGE, "bytes", "the agent's resident memory"),
        Field("cpu_seconds", float, COUNTER, "seconds", "the agent's CPU time (user + system)"),
        Field("collectors_disabled", int, GAUGE, "collectors", "disabled by the self-limits"),
        Field("collect_ms_last", float, GAUGE, "milliseconds", "latest run's duration"),
        Field("collect_ms_p99", float, GAUGE, "milliseconds", "p99 run duration (last 1024)"),
        Field("collect_ms_max", float, GAUGE, "milliseconds", "slowest run (last 1024)"),
        Field("collect_cpu_ms_p99", float, GAUGE, "milliseconds", "p99 CPU time of a run"),
        Field("collect_cpu_seconds", float, COUNTER, "seconds", "CPU time of all runs"),
        Field("samples", int, GAUGE, "runs", "runs in the latency window"),
        Field("errors", int, COUNTER, "runs", "runs that failed"),
        Field("points", int, COUNTER, "points", "points collected"),
    ),
)


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
                "dropped_points": dropped + stats.unspooled_dropped,
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
