"""The agent speaks Telegraf's schema on Linux: measurement, tag and field names and types.

The table below is taken from Telegraf's plugin documentation at one commit of
github.com/influxdata/telegraf (each entry cites its README); where a README and the plugin's
code disagree, the code is what Telegraf sends, and the entry says so. The test compares it
with the agent's declarations AND with what the agent really collects on this Linux host, so
community dashboards' InfluxQL works unchanged on the agent's data.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fleetmon_agent.collectors import BY_NAME, REGISTRY, Context, measurements
from fleetmon_agent.collectors.cpu import CpuOptions
from fleetmon_agent.stats import AgentStats

TELEGRAF = "https://github.com/influxdata/telegraf/blob/b27263146617cefe16c0b300107b58b111a7fa57"
F, I, S = float, int, str  # noqa: E741 - the table reads better with one letter


def readme(plugin: str) -> str:
    return f"{TELEGRAF}/plugins/inputs/{plugin}/README.md"


# measurement -> where it is documented, its tags, its Linux fields and their types,
# the fields Telegraf sends only under a condition (option, platform state, second sample).
TABLE: dict[str, dict[str, Any]] = {
    "cpu": {
        "source": readme("cpu"),
        "tags": {"cpu"},
        "fields": {
            **{f"usage_{s}": F for s in (
                "user", "system", "idle", "active", "nice", "iowait", "irq", "softirq",
                "steal", "guest", "guest_nice",
            )},
            **{f"time_{s}": F for s in (
                "user", "system", "idle", "active", "nice", "iowait", "irq", "softirq",
                "steal", "guest", "guest_nice",
            )},
        },
        # time_* with collect_cpu_time = true (the test turns it on)
        "conditional": set(),
    },
    "mem": {
        "source": readme("mem"),  # "Available fields are dependent on platform": Linux's
        "tags": set(),
        "fields": {
            "active": I, "available": I, "available_percent": F, "buffered": I, "cached": I,
            "commit_limit": I, "committed_as": I, "dirty": I, "free": I, "high_free": I,
            "high_total": I, "huge_pages_free": I, "huge_page_size": I, "huge_pages_total": I,
            "inactive": I, "low_free": I, "low_total": I, "mapped": I, "page_tables": I,
            "shared": I, "slab": I, "sreclaimable": I, "sunreclaim": I, "swap_cached": I,
            "swap_free": I, "swap_total": I, "total": I, "used": I, "used_percent": F,
            "vmalloc_chunk": I, "vmalloc_total": I, "vmalloc_used": I, "write_back": I,
            "write_back_tmp": I,
        },
        "conditional": set(),
    },
    "swap": {
        "source": readme("swap"),
        "tags": set(),
        "fields": {"free": I, "total": I, "used": I, "used_percent": F, "in": I, "out": I},
        "conditional": set(),
    },
    "disk": {
        "source": readme("disk"),  # tag `label` only for device-mapper devices that have one
        "tags": {"fstype", "device", "path", "mode"},
        "fields": {
            "free": I, "total": I, "used": I, "used_percent": F, "inodes_free": I,
            "inodes_total": I, "inodes_used": I, "inodes_used_percent": F,
        },
        "conditional": set(),
    },
    "diskio": {
        "source": readme("diskio"),  # tag `serial` only with skip_serial_number = false
        "tags": {"name"},
        "fields": {
            "reads": I, "writes": I, "read_bytes": I, "write_bytes": I, "read_time": I,
            "write_time": I, "io_time": I, "weighted_io_time": I, "iops_in_progress": I,
            "merged_reads": I, "merged_writes": I, "io_util": F, "io_await": F, "io_svctm": F,
        },
        # from the previous sample; await and svctm only when I/O completed in between
        "conditional": {"io_util", "io_await", "io_svctm"},
    },
    "net": {
        "source": readme("net"),
        "tags": {"interface"},
        "fields": {
            "bytes_sent": I, "bytes_recv": I, "packets_sent": I, "packets_recv": I,
            "err_in": I, "err_out": I, "drop_in": I, "drop_out": I, "speed": I,
        },
        "conditional": set(),
    },
    "netstat": {
        "source": readme("netstat"),
        "tags": set(),
        "fields": {
            **{f"tcp_{s}": I for s in (
                "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
                "close", "close_wait", "last_ack", "listen", "closing", "none",
            )},
            "udp_socket": I,
        },
        "conditional": set(),
    },
    "processes": {
        # The README says `zombie`; plugins/inputs/processes/processes_notwindows.go sends
        # `zombies` (and `unknown`), and `parked` only once it has seen a parked thread.
        "source": readme("processes"),
        "tags": set(),
        "fields": {
            "blocked": I, "running": I, "sleeping": I, "stopped": I, "total": I, "zombies": I,
            "dead": I, "idle": I, "paging": I, "parked": I, "total_threads": I, "unknown": I,
        },
        "conditional": {"parked"},
    },
    "system": {
        # the default `include = ["legacy"]`: the three metrics' fields (uptime_format too)
        "source": readme("system"),
        "tags": set(),
        "fields": {
            "load1": F, "load5": F, "load15": F, "n_users": I, "n_unique_users": I,
            "n_cpus": I, "n_physical_cpus": I, "uptime": I, "uptime_format": S,
        },
        "conditional": set(),
    },
    "kernel": {
        # disk_pages_* only where /proc/stat has a `page` line; ksm_* and pressure only when
        # configured (`collect`), which the agent does not offer.
        "source": readme("kernel"),
        "tags": set(),
        "fields": {
            "boot_time": I, "context_switches": I, "interrupts": I, "processes_forked": I,
            "entropy_avail": I, "disk_pages_in": I, "disk_pages_out": I,
        },
        "conditional": {"disk_pages_in", "disk_pages_out"},
    },
    "procstat": {
        # The agent reports the top processes, a subset of Telegraf's fields: those listed
        # here must be Telegraf's (name and type); AGENT_OMITS lists the rest.
        "source": readme("procstat"),
        # `pid_tag = true`: the pid becomes a tag and is removed from the fields.
        "tags": {"process_name", "pid", "user"},
        "fields": {
            "cpu_usage": F, "cpu_time_user": F, "cpu_time_system": F,
            "memory_rss": I, "memory_usage": F, "num_threads": I, "created_at": I,
        },
        "conditional": set(),
    },
    "temp": {
        # the default metric_format v2: one `temp` field per sensor
        "source": readme("temp"),
        "tags": {"sensor"},
        "fields": {"temp": F},
        "conditional": set(),
    },
}  # fmt: skip

# Fields the agent adds where Telegraf has none (DESIGN.md: "add fields in the same style").
AGENT_EXTRAS = {
    "mem": {"wired"},  # BSD and macOS only (Telegraf's too, on those platforms)
    "procstat": {"cmdline"},  # Telegraf can only make it a tag: one series per command line
    "temp": {"high", "critical"},
}


def test_the_table_cites_telegraf_for_every_shared_measurement() -> None:
    declared = measurements()
    for name, entry in TABLE.items():
        assert name in declared, f"the agent does not emit Telegraf's {name}"
        plugin = declared[name].source.removeprefix("telegraf inputs.")
        assert entry["source"] == readme(plugin)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_declarations_use_telegrafs_names_and_types(name: str) -> None:
    m = measurements()[name]
    telegraf = TABLE[name]
    assert {t.name for t in m.tags} == telegraf["tags"]
    declared = {f.name: f.type for f in m.fields}
    extras = AGENT_EXTRAS.get(name, set())
    assert set(declared) - extras == set(telegraf["fields"]), name
    for field, typ in telegraf["fields"].items():
        assert declared[field] is typ, f"{name}.{field}: Telegraf sends {typ.__name__}"


@pytest.fixture(scope="module")
def collected() -> dict[str, list[Any]]:
    """What the agent collects on this host: every collector twice (deltas exist), cpu with
    collect_cpu_time on (Telegraf's time_* fields)."""
    ctx = Context(agent_stats=AgentStats())
    made = [
        spec.create(ctx, CpuOptions(collect_cpu_time=True)) if spec.name == "cpu"
        else spec.create(ctx)
        for spec in REGISTRY
    ]  # fmt: skip
    for c in made:
        c.collect(time.time())
    with open("/dev/null", "w") as f, open(__file__, "rb") as src:  # some I/O in between
        f.write(src.read().decode())
    time.sleep(0.3)
    out: dict[str, list[Any]] = {}
    for c in made:
        for p in c.collect(time.time()):
            out.setdefault(p.measurement, []).append(p)
    return out


@pytest.mark.parametrize("name", sorted(TABLE))
def test_collected_points_carry_telegrafs_fields_and_types(
    name: str, collected: dict[str, list[Any]]
) -> None:
    telegraf = TABLE[name]
    points = collected.get(name, [])
    if name == "temp" and not points:
        # No hwmon sensors on this machine (a VM): the sensor tag is checked on a fixture in
        # test_temp_sensor_names_follow_telegraf_v2 instead.
        return
    assert points, f"nothing collected for {name} on this Linux host"
    required = set(telegraf["fields"]) - telegraf["conditional"]
    for p in points:
        assert set(p.tags) <= telegraf["tags"]
        assert required <= set(p.fields), f"{name} misses {sorted(required - set(p.fields))}"
        for field, value in p.fields.items():
            if field in telegraf["fields"]:
                assert type(value) is telegraf["fields"][field], f"{name}.{field} = {value!r}"
    if name == "diskio":  # the second sample has the derived fields
        assert any("io_util" in p.fields for p in points)
    if name == "cpu":
        assert {p.tags["cpu"] for p in points} >= {"cpu-total", "cpu0"}


def test_kernel_counters_match_proc_stat(collected: dict[str, list[Any]]) -> None:
    (point,) = collected["kernel"]
    with open("/proc/stat") as f:
        stat = {line.split()[0]: int(line.split()[1]) for line in f if line.strip()}
    assert point.fields["boot_time"] == stat["btime"]
    assert 0 < int(point.fields["context_switches"]) <= stat["ctxt"]
    assert 0 < int(point.fields["processes_forked"]) <= stat["processes"]
    assert 0 < int(point.fields["interrupts"]) <= stat["intr"]


def test_mem_is_computed_as_telegraf_computes_it(collected: dict[str, list[Any]]) -> None:
    f = collected["mem"][0].fields
    # gopsutil (Telegraf's library): used = total - available; cached includes SReclaimable.
    assert f["used"] == int(f["total"]) - int(f["available"])
    assert int(f["cached"]) >= int(f["sreclaimable"])
    assert f["used_percent"] == pytest.approx(100.0 * int(f["used"]) / int(f["total"]), abs=1e-3)


def test_system_uptime_format_is_telegrafs() -> None:
    from fleetmon_agent.collectors.system import format_uptime

    # plugins/inputs/system/system.go formatUptime: "%d day%s, " then "%2d:%02d"
    assert format_uptime(1249632) == "14 days, 11:07"
    assert format_uptime(86400 + 300) == "1 day,  0:05"
    assert format_uptime(3 * 3600 + 9 * 60 + 59) == " 3:09"


def test_temp_sensor_names_follow_telegraf_v2() -> None:
    from collections import namedtuple

    Entry = namedtuple("Entry", "label current high critical")
    ps = type(
        "Ps",
        (),
        {
            "sensors_temperatures": staticmethod(
                lambda: {
                    "coretemp": [
                        Entry("Package id 0", 48.0, 80.0, 100.0),
                        Entry("Core 0", 45.0, None, None),
                    ],
                    "acpitz": [Entry("", 27.8, None, None)],
                }
            )
        },
    )()
    points = BY_NAME["sensors"].create(Context(psutil=ps)).collect(1.0)
    # temp_linux.go createMetricsV2: name + "_" + label (lower case, spaces -> "_")
    assert {p.tags["sensor"]: p.fields["temp"] for p in points} == {
        "coretemp_package_id_0": 48.0,
        "coretemp_core_0": 45.0,
        "acpitz": 27.8,
    }
