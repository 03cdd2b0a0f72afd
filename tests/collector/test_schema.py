"""Each collector's declarations: its options, its measurements, and what it really emits."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from fleetmon_agent.collectors import REGISTRY, Context, measurements
from fleetmon_agent.config import ConfigError, build
from fleetmon_agent.schema import COUNTER, INFO, TYPES
from fleetmon_agent.stats import AgentStats


@pytest.fixture(scope="module")
def collected() -> dict[str, list[Any]]:
    """Two rounds of every collector on this host (the second one has deltas)."""
    ctx = Context(agent_stats=AgentStats())
    made = [(spec, spec.create(ctx)) for spec in REGISTRY]
    for _, c in made:
        c.collect(time.time())
    time.sleep(0.2)
    return {spec.name: c.collect(time.time()) for spec, c in made}


@pytest.mark.parametrize("spec", REGISTRY, ids=[s.name for s in REGISTRY])
def test_every_emitted_field_and_tag_is_declared_with_its_type(
    spec: Any, collected: dict[str, list[Any]]
) -> None:
    declared = {m.name: m for m in spec.measurements}
    for p in collected[spec.name]:
        assert p.measurement in declared, f"{spec.name} emits undeclared {p.measurement}"
        m = declared[p.measurement]
        assert set(p.tags) <= {t.name for t in m.tags}, p.tags
        for name, value in p.fields.items():
            f = m.by_field.get(name)
            assert f is not None, f"{p.measurement}.{name} is not declared"
            # Exact type: an int in a float field is a type conflict in InfluxDB.
            assert type(value) is f.type, f"{p.measurement}.{name}: {value!r} is not {f.type}"


def test_the_table_is_consistent() -> None:
    table = measurements()
    assert list(table) == [m.name for s in REGISTRY for m in s.measurements]
    for m in table.values():
        assert m.help
        for f in m.fields:
            assert f.help, f"{m.name}.{f.name} has no help"
            assert f.type in TYPES
            assert (f.kind == INFO) == (f.type is str), f"{m.name}.{f.name}: text is info"
            if f.kind == COUNTER:
                assert f.type in (int, float)
    assert table["diskio"].counters() >= {"reads", "writes", "read_bytes", "write_bytes"}
    assert "send_errors" in table["fleetmon_agent"].counters()
    assert not {f for f in table["cpu"].counters() if f.startswith("usage_")}
    assert not table["mem"].counters()
    assert table["kernel"].counters() == {
        "context_switches",
        "interrupts",
        "processes_forked",
        "disk_pages_in",
        "disk_pages_out",
    }  # boot_time is a timestamp, not a counter (the old catalog said it was)


@pytest.mark.parametrize("spec", REGISTRY, ids=[s.name for s in REGISTRY])
def test_every_option_default_round_trips_through_its_declaration(spec: Any) -> None:
    for name, opt in spec.options.declared().items():
        assert opt.doc, f"collectors.{spec.name}.{name} has no doc"
        assert opt.kind.parse(opt.default) == opt.default
        shown = yaml.safe_load(f"v: {opt.shown()}")["v"]
        assert opt.kind.parse(shown) == opt.default, f"{spec.name}.{name}: {opt.shown()}"
    assert list(spec.options.declared())[:2] == ["enabled", "interval"]


def _errors(raw: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build(raw, env or {}, "<test>")
    return info.value.errors


def test_options_are_parsed_and_checked_by_the_collectors_own_declaration() -> None:
    errs = _errors(
        {
            "collectors": {
                "procstat": {"top_n": "many"},
                "cpu": {"percpu": "maybe", "per_cpu": True},
                "disk": {"ignore_fs": "tmpfs"},
                "net": {"interfaces": [1, 2]},
            }
        }
    )
    assert errs == [
        "collectors.cpu.percpu = 'maybe': must be true or false",
        "collectors.cpu.per_cpu = True: unknown key "
        "(allowed: enabled, interval, percpu, totalcpu, collect_cpu_time)",
        "collectors.net.interfaces = [1, 2]: must be a list of strings",
        "collectors.procstat.top_n = 'many': must be an integer between 1 and 100",
    ]
    # A string where a list is declared is the comma-separated form (as from the environment).
    c = build({"collectors": {"disk": {"ignore_fs": "tmpfs, proc"}}}, {}, "<test>")
    assert c.collectors["disk"].as_dict()["ignore_fs"] == ["tmpfs", "proc"]
    # A flag from the environment is a flag, not a list of one string.
    c = build({}, {"FLEETMON_COLLECTORS_DISK_INCLUDE_DUPLICATES": "yes"}, "<test>")
    assert c.collectors["disk"].as_dict()["include_duplicates"] is True
