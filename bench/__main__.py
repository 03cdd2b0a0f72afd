"""Run benchmarks: `python -m bench [name ...]` (all when no name is given)."""

from __future__ import annotations

import importlib
import sys

# Explicit registry: module name -> what it measures. Each module has `main(argv) -> int`.
BENCHMARKS: dict[str, str] = {
    "bench.accounting": "per-batch CPU of host loss/clock/late accounting vs decoding (issue 12)",
    "bench.alerts": "alert evaluation cycle (100 rules x 1,000 hosts) and notify latency (issue 4)",
    "bench.agent": "agent CPU, RSS and collection latency vs node_exporter (issue: agent)",
    "bench.api": "API ingest vs direct influxd, query latency p95 (issue 3)",
    "bench.hostile": "/health latency and server RSS while hostile ingest bodies arrive (issue 15)",
    "bench.faults": "every point stored or counted as dropped, long outages and skews (issue 12)",
    "bench.fleet": "fleet simulator: N hosts x small batches through the API vs direct (issue 11)",
    "bench.soak": "30 minutes of a fleet: RSS of the API, the alert worker and an agent (issue 11)",
    "bench.decode": "ingest decoding CPU per batch on each path vs orjson.loads (issue 10)",
    "bench.storage": "store write throughput vs direct influxd (issue: foundation)",
}


def main(argv: list[str]) -> int:
    """Run the named benchmarks, or all of them; options after one name go to that benchmark."""
    split = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    names, options = argv[:split] or list(BENCHMARKS), argv[split:]
    if options and len(names) != 1:
        print("options are for one named benchmark: python -m bench NAME --option", file=sys.stderr)
        return 2
    for name in names:
        mod = name if name.startswith("bench.") else f"bench.{name}"
        if mod not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        print(f"== {mod}: {BENCHMARKS[mod]}", flush=True)
        rc = importlib.import_module(mod).main(options)
        if rc:
            return int(rc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
