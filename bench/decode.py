"""Ingest decoding in-process: CPU per 1,000-point agent batch on each decode path.

The collect endpoint's decoding (`fleetmon_api.ingest.decode`) of one body per path, with
a warm shape cache, measured as process CPU time (a busy neighbour slows the wall clock,
not our CPU time as much) against an anchor in the same run: `orjson.loads` of the same
body, the bare cost of reading its JSON into Python objects. Paths:

- fast: msgspec structs, then the cached-shape compiler (what agents' batches take);
- deferred: decoded by msgspec, the compiler does not vouch (here the last point is older
  than the accepted window): the Validator checks the same structs and refuses the batch;
- fast + admission: the fast path, then the stage that follows it on every batch (per-host
  cardinality budget and the field-type contract, both with warm caches);
- strict: msgspec refuses the body (here one integer beyond 64 bits, which only the
  reference model accepts, as a float): the pydantic model reads it, the Validator checks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial

import orjson
from sqlalchemy import create_engine

from bench.report import table, write_section
from fleetmon_api.errors import ApiError
from fleetmon_api.ingest import decode
from fleetmon_api.ingest.cardinality import Cardinality, CardinalityLimits
from fleetmon_api.ingest.fastpath import FastCompiler
from fleetmon_api.ingest.fieldtypes import FieldTypes
from fleetmon_api.ingest.validate import Limits, Validator
from fleetmon_db.timeseries import NS

NOW_S = 1_800_000_000
LIMITS = Limits(5_000, 100, 50, 256, 256, 86_400 * NS, 600 * NS)
FIELDS = ("usage_user", "usage_system", "usage_idle", "usage_iowait", "usage_steal", "usage_irq")
REPEAT, ROUNDS = 50, 9


def body(path: str) -> bytes:
    """1,000 cpu points (100 cpus x 10 timestamps, six float fields), shaped for `path`."""
    points: list[dict[str, object]] = [
        {
            "measurement": "cpu",
            "time": NOW_S - 10 + t + 0.25,
            "tags": {"cpu": f"cpu{c}"},
            "fields": dict.fromkeys(FIELDS, 1.5 + c),
        }
        for t in range(10)
        for c in range(100)
    ]
    if path == "deferred":
        points[-1]["time"] = NOW_S - 10 * 86_400
    elif path == "strict":
        points[-1]["fields"] = {**dict.fromkeys(FIELDS, 1.5), "usage_irq": 2**63}
    return json.dumps({"batch_id": "b-1", "agent": {"version": "1.0"}, "points": points}).encode()


def cpu_ms(run: Callable[[], object]) -> float:
    """Median over rounds of process CPU ms per call."""
    run()
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(REPEAT):
            run()
        rounds.append((time.process_time() - started) / REPEAT * 1000)
    return sorted(rounds)[ROUNDS // 2]


def decode_once(raw: bytes, compiler: FastCompiler) -> str:
    """What the endpoint's decoding makes of `raw`: 'accepted' or 'refused'."""
    try:
        decode.agent_batch(raw, LIMITS.max_points).points("web-1", NOW_S * NS, compiler)
    except ApiError:
        return "refused"
    return "accepted"


def admit_once(raw: bytes, compiler: FastCompiler, card: Cardinality, types: FieldTypes) -> str:
    """The fast path and then admission, as the collect endpoint runs them."""
    batch = decode.agent_batch(raw, LIMITS.max_points).points("web-1", NOW_S * NS, compiler)
    card.check(1, batch)
    expected, complete = types.expectations(batch)
    if not complete:  # never here: every field is one the agent declares
        return "learning"
    types.enforce(batch, expected)
    return "accepted"


def main(argv: list[str]) -> int:
    """Measure each path beside its anchor and write the `decode` section."""
    rows: list[list[object]] = []
    engine = create_engine("sqlite://")  # FieldTypes reads it only for unknown fields
    for path in ("fast", "fast + admission", "deferred", "strict"):
        raw = body(path.split()[0])
        compiler = FastCompiler(Validator(LIMITS))
        run = partial(decode_once, raw, compiler)
        if path == "fast + admission":
            card = Cardinality(CardinalityLimits(20_000, 500, 10_000, 3600.0), time.monotonic)
            run = partial(admit_once, raw, compiler, card, FieldTypes(engine))
        outcome = run()
        anchor = cpu_ms(partial(orjson.loads, raw))
        took = cpu_ms(run)
        print(f"  {path}: {took:.2f} ms ({outcome}), orjson.loads {anchor:.2f} ms", flush=True)
        rows.append([path, outcome, f"{took:.2f}", f"{anchor:.2f}", f"{took / anchor:.2f}"])
    headers = ["path", "outcome", "CPU ms/batch", "orjson.loads ms (anchor)", "x anchor"]
    body_md = f"""{__doc__.split(chr(10), 2)[2].strip() if __doc__ else ""}

Median of {ROUNDS} rounds of {REPEAT} calls each.

{table(headers, rows)}
"""
    write_section(
        "decode", "Ingest decoding per path (in-process)", "uv run python -m bench decode", body_md
    )
    print(table(headers, rows), flush=True)
    return 0
