"""heap.trim gives freed memory back: the RSS of a process after a transient peak."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from fleetmon_db import heap

_PROBE = textwrap.dedent(
    """
    import sys
    from fleetmon_db import heap

    def rss_mb():
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

    base = rss_mb()
    # A peak like an evaluation's: many small objects, most of them freed afterwards.
    peak = [bytes(600) + str(i).encode() for i in range(300_000)]
    kept = peak[::50]
    del peak
    after_free = rss_mb()
    trimmed = heap.trim() if sys.argv[1] == "trim" else False
    print(base, after_free, rss_mb(), trimmed, len(kept))
    """
)


def _run(mode: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return [float(out[0]), float(out[1]), float(out[2]), float(out[3] == "True")]


def test_trim_returns_a_freed_peak_to_the_os() -> None:
    base, after_free, after_trim, trimmed = _run("trim")
    assert trimmed
    assert after_free - base > 100, "the peak did not show in RSS: the probe measures nothing"
    assert after_trim - base < (after_free - base) / 3, (base, after_free, after_trim)


def test_without_trim_the_freed_peak_stays_in_rss() -> None:
    """The reason trim exists: freed memory is not given back by itself."""
    base, _, after, _ = _run("none")
    assert after - base > 100


def test_trim_is_harmless_to_call_often() -> None:
    assert all(heap.trim() in (True, False) for _ in range(20))
