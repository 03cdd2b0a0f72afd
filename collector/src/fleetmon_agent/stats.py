"""The agent's own counters and per-collector latencies (reported as `fleetmon_agent`)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable

LATENCY_WINDOW = 1024  # samples per collector: 85 min at 5 s, enough for a p99


class LatencyRing:
    """The last N collection durations of one collector."""

    def __init__(self, size: int = LATENCY_WINDOW) -> None:
        self.samples: deque[float] = deque(maxlen=size)
        # CPU time of the collecting thread: tells slow code from a busy machine.
        self.cpu_samples: deque[float] = deque(maxlen=size)
        self.errors = 0
        self.points = 0
        self.cpu_total = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self.samples.append(seconds)

    def percentile(self, q: float, cpu: bool = False) -> float:
        """The q-th percentile (nearest rank) of the wall-clock (or CPU) window, 0 when empty."""
        window = self.cpu_samples if cpu else self.samples
        if not window:
            return 0.0
        ordered = sorted(window)
        rank = max(round(q / 100.0 * len(ordered) + 0.5) - 1, 0)
        return ordered[min(rank, len(ordered) - 1)]


class AgentStats:
    """Thread-safe counters shared by the scheduler, the sender and the self collector."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.send_errors = 0
        self.batches_sent = 0
        self.points_sent = 0
        self.batches_quarantined = 0
        self.last_send_latency = 0.0
        self.latencies: dict[str, LatencyRing] = {}
        self.disabled: list[str] = []
        # Filled in by the agent: (files, bytes, dropped points) of the spool; the dropped
        # points are every reason's (drops.py), unwritable spool included.
        self.spool_probe: Callable[[], tuple[int, int, int]] | None = None

    def record_collect(
        self, name: str, seconds: float, points: int, failed: bool, cpu_seconds: float = 0.0
    ) -> None:
        """Record one run of a collector."""
        with self.lock:
            ring = self.latencies.setdefault(name, LatencyRing())
            ring.add(seconds)
            ring.cpu_samples.append(cpu_seconds)
            ring.cpu_total += cpu_seconds
            ring.points += points
            if failed:
                ring.errors += 1

    def record_send(self, ok: bool, seconds: float, points: int) -> None:
        """Record one HTTP attempt."""
        with self.lock:
            self.last_send_latency = seconds
            if ok:
                self.batches_sent += 1
                self.points_sent += points
            else:
                self.send_errors += 1
