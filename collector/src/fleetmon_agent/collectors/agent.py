"""`fleetmon_agent`: the agent's own health (spool, drops, send errors, RSS, CPU, latencies)."""

from __future__ import annotations

import os
from typing import Any

from fleetmon_agent import __version__
from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.stats import AgentStats


class AgentCollector:
    """One overall point plus one point per collector with its latency figures."""

    def __init__(self, ctx: Context, options: Options) -> None:
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


def create(ctx: Context, options: Options) -> AgentCollector:
    """Build the collector."""
    return AgentCollector(ctx, options)
