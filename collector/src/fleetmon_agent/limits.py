"""Self-limits: the agent watches its own CPU and memory and acts when it overspends."""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

log = logging.getLogger(__name__)


class SelfLimits:
    """Checks CPU (percent of one core over the window) and RSS against the configured limits."""

    def __init__(
        self,
        cpu_percent: float,
        rss_mb: float,
        action: str,
        disable_next: Callable[[], str | None],
        stop: Callable[[], None],
        process: Any = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cpu_limit, self.rss_limit = cpu_percent, rss_mb * 1024 * 1024
        self.action = action
        self.disable_next, self.stop = disable_next, stop
        self.monotonic = monotonic
        if process is None:
            import psutil

            process = psutil.Process(os.getpid())
        self.process = process
        self._last = self._sample()

    def _sample(self) -> tuple[float, float]:
        t = self.process.cpu_times()
        return self.monotonic(), float(t.user + t.system)

    def check(self) -> list[str]:
        """Measure since the last check; act on every limit exceeded; return the breaches."""
        (w0, c0), (w1, c1) = self._last, self._sample()
        self._last = (w1, c1)
        breaches: list[str] = []
        if w1 > w0:
            cpu = 100.0 * (c1 - c0) / (w1 - w0)
            if cpu > self.cpu_limit:
                breaches.append(f"CPU {cpu:.2f}% of one core > limit {self.cpu_limit:g}%")
        rss = float(self.process.memory_info().rss)
        if rss > self.rss_limit:
            breaches.append(f"RSS {rss / 1048576:.1f} MB > limit {self.rss_limit / 1048576:.0f} MB")
        if not breaches:
            return breaches
        what = "; ".join(breaches)
        if self.action == "disable_collectors":
            name = self.disable_next()
            log.warning("self-limit exceeded (%s): disabled collector %s", what, name or "none")
        elif self.action == "stop":
            log.error("self-limit exceeded (%s): stopping the agent", what)
            self.stop()
        else:
            log.warning("self-limit exceeded (%s)", what)
        return breaches
