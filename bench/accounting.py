"""What per-host accounting adds to each agent batch, beside what decoding it costs.

In-process, process CPU time, side by side in one run: decoding and compiling a 40-point
agent batch (the fast path every agent batch takes) against the work the collect endpoint
now adds per batch: the agent's own state recorded (`LossBook.agent_report`: drop counters,
quarantined files, clock offset) and the late-arrival check (`LateArrivals.note`). Prints
the figures; writes nothing (the ratio is what to compare).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from sqlalchemy.orm import sessionmaker

from fleetmon_api.ingest import decode
from fleetmon_api.ingest.fastpath import FastCompiler
from fleetmon_api.ingest.validate import Limits, Validator
from fleetmon_api.latefill import LateArrivals
from fleetmon_api.losses import LossBook
from fleetmon_api.telemetry import Telemetry
from fleetmon_db.timeseries import NS

LIMITS = Limits(5_000, 100, 50, 256, 256, 86_400 * NS, 600 * NS)
CALLS, ROUNDS = 5_000, 7


def cpu_us(fn: Callable[[], object]) -> float:
    """Best of ROUNDS: process CPU microseconds per call."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(CALLS):
            fn()
        best = min(best, (time.process_time() - started) / CALLS * 1e6)
    return best


def main(argv: list[str]) -> int:
    """Measure both beside each other and print them."""
    now = time.time()
    points = [
        {
            "measurement": "cpu",
            "time": now - i * 0.1,
            "tags": {"cpu": f"cpu{i % 8}"},
            "fields": {"usage_user": 1.0, "usage_system": 2.0, "usage_idle": 90.0},
        }
        for i in range(40)
    ]
    agent = {
        "version": "1.0.0",
        "dropped": {"spool_full": 3},
        "dropped_points": 3,
        "quarantined_files": 1,
        "clock_offset_s": 0.2,
    }
    raw = orjson.dumps({"batch_id": str(uuid.uuid4()), "agent": agent, "points": points})
    compiler = FastCompiler(Validator(LIMITS))
    now_ns = time.time_ns()
    book = LossBook(sessionmaker(), lambda: datetime.now(UTC), Telemetry())
    late = LateArrivals(sessionmaker(), lambda: datetime.now(UTC))
    batch = decode.agent_batch(raw, 50_000)
    times = batch.points("h", now_ns, compiler).times
    state = batch.agent
    assert state is not None

    def decoding() -> None:
        decode.agent_batch(raw, 50_000).points("h", now_ns, compiler)

    def accounting() -> None:
        book.agent_report(
            1, state.dropped, state.dropped_points, state.quarantined_files, state.clock_offset_s
        )
        late.note(1, times, now_ns)

    base, added = cpu_us(decoding), cpu_us(accounting)
    print(f"  decode + compile, 40-point batch: {base:.1f} us CPU")
    print(f"  accounting added per batch:       {added:.1f} us CPU ({added / base:.1%} of it)")
    return 0
