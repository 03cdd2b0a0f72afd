"""The background-job loop: fixed interval, at once, or a schedule the job computes."""

from __future__ import annotations

import threading
import time

from fleetmon_api.state import every


def _run(waits: list[float], **kwargs: object) -> list[float]:
    """Start `every` with a job that records when it ran; stop after len(waits) runs."""
    stop = threading.Event()
    ran: list[float] = []
    t0 = time.monotonic()

    def job() -> None:
        ran.append(time.monotonic() - t0)
        if len(ran) >= len(waits):
            stop.set()

    thread = threading.Thread(target=every, args=(10.0, stop, job, "t"), kwargs=kwargs)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    return ran


def test_the_job_computes_its_own_waits_instead_of_the_interval() -> None:
    schedule = iter([0.05, 0.3, 0.05, 0.05])
    ran = _run([0, 0, 0], wait_s=lambda: next(schedule))
    # 0.05 s, then 0.3 s, then 0.05 s (the interval of 10 s never waited for).
    assert 0.04 <= ran[0] < 0.3
    assert 0.3 <= ran[1] - ran[0] < 0.6
    assert ran[2] - ran[1] < 0.25


def test_at_once_runs_before_the_first_interval() -> None:
    ran = _run([0], at_once=True)
    assert ran[0] < 1.0
