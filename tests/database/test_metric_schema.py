"""The server's view of the agent's declarations: counters and field types from one table."""

from __future__ import annotations

import subprocess
import sys

from fleetmon_db import metric_schema


def test_importing_the_declarations_loads_no_psutil_and_starts_nothing() -> None:
    code = (
        "import sys, threading\n"
        "import fleetmon_db.metric_schema as m\n"
        "assert m.COUNTERS\n"
        "assert 'psutil' not in sys.modules, 'psutil imported'\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert not any(n.startswith('fleetmon_api') for n in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_counters_and_types_come_from_the_collectors() -> None:
    from fleetmon_agent.collectors import measurements

    table = measurements()
    assert set(metric_schema.COUNTERS) <= set(table)
    for name, fields in metric_schema.COUNTERS.items():
        assert fields == table[name].counters()
    assert metric_schema.is_counter("net", "bytes_recv")
    assert metric_schema.is_counter("fleetmon_agent", "points_sent")
    assert not metric_schema.is_counter("cpu", "usage_user")
    assert not metric_schema.is_counter("nosuch", "bytes_recv")
    assert metric_schema.expected_type("cpu", "usage_user") is float
    assert metric_schema.expected_type("mem", "total") is int
    assert metric_schema.expected_type("procstat", "cmdline") is str
    assert metric_schema.expected_type("cpu", "nosuch") is None
