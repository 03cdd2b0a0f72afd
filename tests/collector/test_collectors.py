"""Collectors on injected fixtures (fake psutil, fake /proc) and on the real host."""

from __future__ import annotations

import time
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fleetmon_agent.collectors import (
    REGISTRY,
    Context,
    cpu,
    disk,
    net,
    netstat,
    processes,
    procstat,
)
from fleetmon_agent.collectors.procscan import parse_stat
from tests.support.clock import NS, FakeClock

CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")
Part = namedtuple("Part", "device mountpoint fstype opts")
NetIO = namedtuple(
    "NetIO", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout"
)


def _times(user: float, system: float, idle: float) -> CpuTimes:
    return CpuTimes(user, 0.0, system, idle, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


class FakeCpuPsutil:
    """cpu_times() answers from a script of samples."""

    def __init__(self, samples: list[list[CpuTimes]]) -> None:
        self.samples = samples
        self.i = 0

    def cpu_times(self, percpu: bool = False) -> Any:
        sample = self.samples[min(self.i // 2, len(self.samples) - 1)]
        self.i += 1
        if percpu:
            return sample
        return _times(
            sum(t.user for t in sample), sum(t.system for t in sample), sum(t.idle for t in sample)
        )


def test_cpu_usage_comes_from_deltas_between_calls() -> None:
    ps = FakeCpuPsutil(
        [
            [_times(10, 10, 80), _times(0, 0, 100)],
            [_times(40, 20, 140), _times(50, 0, 150)],  # +30 user +10 sys +60 idle; +50/+50
        ]
    )
    c = cpu.create(Context(psutil=ps), cpu.CpuOptions(percpu=True, totalcpu=True))
    first = c.collect(1.0)  # since boot
    assert {p.tags["cpu"] for p in first} == {"cpu-total", "cpu0", "cpu1"}
    points = {p.tags["cpu"]: p.fields for p in c.collect(2.0)}
    assert points["cpu0"]["usage_user"] == 30.0
    assert points["cpu0"]["usage_system"] == 10.0
    assert points["cpu0"]["usage_idle"] == 60.0
    assert points["cpu0"]["usage_active"] == 40.0
    assert points["cpu1"]["usage_user"] == 50.0
    assert points["cpu-total"]["usage_user"] == 40.0  # 80 of 200
    assert set(points["cpu0"]) >= {
        "usage_iowait",
        "usage_steal",
        "usage_nice",
        "usage_irq",
        "usage_softirq",
        "usage_guest",
    }


def test_cpu_unchanged_counters_yield_no_point() -> None:
    ps = FakeCpuPsutil([[_times(1, 1, 1)]])
    c = cpu.create(Context(psutil=ps), cpu.CpuOptions(percpu=True, totalcpu=False))
    c.collect(1.0)
    assert c.collect(2.0) == []


def _statvfs(path: str) -> Any:
    return SimpleNamespace(
        f_blocks=1000, f_bfree=400, f_bavail=300, f_frsize=4096, f_files=100, f_ffree=60
    )


def test_disk_excludes_pseudo_and_duplicate_filesystems() -> None:
    parts = [
        Part("/dev/vda1", "/", "ext4", "rw,relatime"),
        Part("/dev/vda1", "/var/lib/docker/bind", "ext4", "rw"),  # bind mount: duplicate
        Part("tmpfs", "/run", "tmpfs", "rw"),
        Part("proc", "/proc", "proc", "rw"),
        Part("/dev/vdb", "/data", "xfs", "ro"),
    ]
    ps = SimpleNamespace(disk_partitions=lambda all: parts)
    c = disk.create(Context(psutil=ps, statvfs=_statvfs), disk.DiskOptions())
    points = c.collect(5.0)
    assert [p.tags["path"] for p in points] == ["/", "/data"]
    root = points[0]
    assert root.tags == {"path": "/", "device": "vda1", "fstype": "ext4", "mode": "rw"}
    assert root.fields == {
        "total": 4096000,
        "free": 1228800,
        "used": 2457600,
        "used_percent": 66.667,
        "inodes_total": 100,
        "inodes_free": 60,
        "inodes_used": 40,
        "inodes_used_percent": 40.0,
    }
    assert root.extra is None  # filled only for pull mode
    assert points[1].tags["mode"] == "ro"
    dup = disk.create(
        Context(psutil=ps, statvfs=_statvfs),
        disk.DiskOptions(include_duplicates=True, ignore_fs=["tmpfs", "proc"]),
    )
    assert len(dup.collect(5.0)) == 3


def test_net_leaves_out_loopback_by_default(tmp_path: Path) -> None:
    counters = {
        "lo": NetIO(1, 2, 3, 4, 0, 0, 0, 0),
        "eth0": NetIO(10, 20, 30, 40, 1, 2, 3, 4),
        "br0": NetIO(0, 0, 0, 0, 0, 0, 0, 0),
    }
    ps = SimpleNamespace(net_io_counters=lambda pernic: counters)
    (tmp_path / "class" / "net" / "eth0").mkdir(parents=True)
    (tmp_path / "class" / "net" / "eth0" / "speed").write_text("10000\n")
    ctx = Context(psutil=ps, sys_root=str(tmp_path))
    points = net.create(ctx, net.NetOptions()).collect(1.0)
    assert [p.tags for p in points] == [{"interface": "br0"}, {"interface": "eth0"}]
    assert points[0].fields["speed"] == -1  # no speed file: Telegraf's -1
    assert points[1].fields == {
        "bytes_sent": 10,
        "bytes_recv": 20,
        "packets_sent": 30,
        "packets_recv": 40,
        "err_in": 1,
        "err_out": 2,
        "drop_in": 3,
        "drop_out": 4,
        "speed": 10000,
    }


def _fake_proc(root: Path, procs: list[tuple[int, str, str, int, int, int, int]]) -> None:
    """Write /proc/stat and /proc/<pid>/{stat,status,cmdline} for (pid, name, state,
    ticks, threads, start_ticks, rss_pages)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text("cpu  1 2 3\nbtime 1000\n")
    for pid, name, state, ticks, threads, start, rss in procs:
        d = root / str(pid)
        d.mkdir(exist_ok=True)
        fields = [
            state,
            "1",
            "1",
            "1",
            "0",
            "-1",
            "0",
            "0",
            "0",
            "0",
            "0",
            str(ticks),
            "0",
            "0",
            "0",
            "20",
            "0",
            str(threads),
            "0",
            str(start),
            "1000",
            str(rss),
            "0",
        ]
        (d / "stat").write_text(f"{pid} ({name}) " + " ".join(fields) + "\n")
        (d / "status").write_text(f"Name:\t{name}\nUid:\t0\t0\t0\t0\n")
        (d / "cmdline").write_bytes(name.encode() + b"\0--flag\0" + b"x" * 300)


def test_parse_stat_handles_names_with_parentheses_and_spaces() -> None:
    raw = b"42 (my (odd) name) S 1 1 1 0 -1 0 0 0 0 0 100 50 0 0 20 0 3 0 500 1000 7 0\n"
    p = parse_stat(42, raw, 100.0, 4096, 1000.0)
    assert p is not None
    assert (p.name, p.state, p.cpu_seconds, p.num_threads) == ("my (odd) name", "S", 1.5, 3)
    assert (p.create_time, p.rss) == (1005.0, 7 * 4096)
    assert parse_stat(1, b"garbage", 100.0, 4096, 0.0) is None


def test_processes_counts_states_and_threads(tmp_path: Path) -> None:
    _fake_proc(
        tmp_path,
        [
            (1, "init", "S", 0, 1, 0, 10),
            (2, "worker", "R", 0, 4, 0, 10),
            (3, "dead one", "Z", 0, 1, 0, 0),
            (4, "io", "D", 0, 2, 0, 10),
            (5, "kthread", "I", 0, 1, 0, 0),
        ],
    )
    (tmp_path / "self").mkdir()  # non-numeric entries are ignored
    point = processes.SPEC.create(Context(proc_root=str(tmp_path))).collect(1.0)[0]
    assert point.measurement == "processes"
    f = point.fields
    assert (f["sleeping"], f["running"], f["zombies"], f["blocked"], f["idle"]) == (1, 1, 1, 1, 1)
    assert (f["total"], f["total_threads"]) == (5, 9)


def test_procstat_top_by_cpu_and_memory_with_deltas(tmp_path: Path) -> None:
    import os

    tick = os.sysconf("SC_CLK_TCK")
    procs = [(pid, f"p{pid}", "S", 0, 1, 0, pid * 100) for pid in range(1, 11)]
    _fake_proc(tmp_path, procs)
    mem = SimpleNamespace(virtual_memory=lambda: SimpleNamespace(total=4096 * 10000))
    clock = FakeClock(100 * NS)
    ctx = Context(psutil=mem, proc_root=str(tmp_path), monotonic=clock.seconds)
    c = procstat.create(ctx, procstat.ProcstatOptions(top_n=2, cmdline_max=20))
    c.collect(2000.0)
    # pid 3 burns 2 s of CPU over the next 10 s; pid 7 burns 1 s.
    procs[2] = (3, "p3", "R", 2 * tick, 1, 0, 300)
    procs[6] = (7, "p7", "S", 1 * tick, 1, 0, 700)
    _fake_proc(tmp_path, procs)
    clock.advance(10)
    points = c.collect(2010.0)
    by_pid = {int(p.tags["pid"]): p for p in points}
    assert set(by_pid) == {3, 7, 10, 9}  # top 2 by CPU + top 2 by memory
    assert by_pid[3].fields["cpu_usage"] == 20.0
    assert by_pid[7].fields["cpu_usage"] == 10.0
    assert by_pid[3].fields["cpu_time_user"] == 2.0
    assert by_pid[3].fields["cpu_time_system"] == 0.0
    assert by_pid[10].fields["memory_rss"] == 1000 * os.sysconf("SC_PAGE_SIZE")
    assert by_pid[10].tags == {"process_name": "p10", "pid": "10", "user": "root"}
    assert by_pid[3].fields["cmdline"] == "p3 --flag xxxxxxxxxx"  # truncated to 20
    assert 0 < float(by_pid[10].fields["memory_usage"]) < 100
    assert by_pid[10].fields["created_at"] == 1000 * 10**9  # boot + 0 ticks, in ns


def test_netstat_counts_tcp_states_from_proc_net(tmp_path: Path) -> None:
    net_dir = tmp_path / "net"
    net_dir.mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue\n"
    rows = ["0A", "0A", "01", "06", "08"]
    (net_dir / "tcp").write_text(
        header
        + "".join(f"   {i}: 0100007F:1F90 00000000:0000 {st} 0:0\n" for i, st in enumerate(rows))
    )
    (net_dir / "tcp6").write_text(header + "   0: 0:1 0:0 01 0:0\n")
    (net_dir / "udp").write_text(header + "   0: 0:35 0:0 07 0:0\n")
    (net_dir / "udp6").write_text(header)
    f = netstat.SPEC.create(Context(proc_root=str(tmp_path))).collect(1.0)[0].fields
    assert (f["tcp_listen"], f["tcp_established"], f["tcp_time_wait"]) == (2, 2, 1)
    assert (f["tcp_close_wait"], f["udp_socket"], f["tcp_syn_sent"]) == (1, 1, 0)


@pytest.mark.parametrize("spec", REGISTRY, ids=[s.name for s in REGISTRY])
def test_every_collector_runs_on_this_host(spec: Any) -> None:
    from fleetmon_agent.stats import AgentStats

    ctx = Context(agent_stats=AgentStats())
    c = spec.create(ctx)
    c.collect(time.time())
    time.sleep(0.05)  # let the CPU counters tick: collectors themselves never sleep
    points = c.collect(time.time() + 1)
    for p in points:
        assert p.measurement
        assert isinstance(p.tags, dict)
        assert p.fields
        assert "host" not in p.tags
        assert all(isinstance(v, (int, float, str, bool)) for v in p.fields.values())
    if spec.name in {"cpu", "system", "mem", "swap", "processes", "procstat", "agent", "netstat"}:
        assert points, f"{spec.name} produced nothing on a Linux host"


def test_host_measurements_use_telegraf_names() -> None:
    ctx = Context()
    names = {s.name: s for s in REGISTRY}
    mem_fields = names["mem"].create(ctx).collect(1.0)[0].fields
    assert {"total", "available", "used", "free", "used_percent", "buffered", "cached"} <= set(
        mem_fields
    )
    sys_fields = names["system"].create(ctx).collect(1.0)[0].fields
    assert set(sys_fields) == {
        "load1",
        "load5",
        "load15",
        "n_cpus",
        "n_physical_cpus",
        "n_users",
        "n_unique_users",
        "uptime",
        "uptime_format",
    }


def test_cpu_takes_guest_time_out_of_user_and_reports_seconds_when_asked() -> None:
    full = namedtuple("full", "user nice system idle iowait irq softirq steal guest guest_nice")
    samples = [
        [full(10.0, 2.0, 5.0, 80.0, 1.0, 0.0, 0.0, 0.0, 4.0, 1.0)],
        [full(30.0, 4.0, 10.0, 120.0, 1.0, 0.0, 0.0, 5.0, 14.0, 2.0)],
    ]

    class PerCpu:
        def __init__(self) -> None:
            self.calls = 0

        def cpu_times(self, percpu: bool = False) -> Any:
            self.calls += 1
            return samples[min(self.calls - 1, 1)]

    c = cpu.create(Context(psutil=PerCpu()), cpu.CpuOptions(totalcpu=False, collect_cpu_time=True))
    first = c.collect(1.0)[0].fields
    assert first["time_user"] == 10.0  # as /proc/stat says: guest included
    assert first["time_guest"] == 4.0
    assert first["time_active"] == 10.0 + 2.0 + 5.0 + 1.0  # all states but idle, once
    f = c.collect(2.0)[0].fields
    # deltas: user 20 (10 of it guest), nice 2 (1 guest_nice), system 5, idle 40, steal 5
    assert f["usage_user"] == pytest.approx(100 * 10 / 72, abs=1e-3)  # Telegraf: user - guest
    assert f["usage_nice"] == pytest.approx(100 * 1 / 72, abs=1e-3)
    assert f["usage_guest"] == pytest.approx(100 * 10 / 72, abs=1e-3)
    assert f["usage_active"] == pytest.approx(100 * 32 / 72, abs=1e-3)
    plain = cpu.create(Context(psutil=PerCpu()), cpu.CpuOptions(totalcpu=False))
    assert not any(k.startswith("time_") for k in plain.collect(1.0)[0].fields)


MEMINFO = """MemTotal:       16000000 kB
MemFree:         2000000 kB
MemAvailable:    9000000 kB
Buffers:          300000 kB
Cached:          6000000 kB
SwapCached:            0 kB
Active:          7000000 kB
Inactive:        5000000 kB
Shmem:            400000 kB
Slab:             900000 kB
SReclaimable:     700000 kB
SUnreclaim:       200000 kB
HugePages_Total:      16
HugePages_Free:        8
Hugepagesize:       2048 kB
"""


def test_mem_reads_meminfo_like_telegraf(tmp_path: Path) -> None:
    from fleetmon_agent.collectors import mem

    (tmp_path / "meminfo").write_text(MEMINFO)
    f = mem.SPEC.create(Context(proc_root=str(tmp_path))).collect(1.0)[0].fields
    k = 1024
    assert f["total"] == 16000000 * k
    assert f["available"] == 9000000 * k
    assert f["used"] == 7000000 * k  # total - available (gopsutil)
    assert f["cached"] == 6700000 * k  # Cached + SReclaimable (gopsutil)
    assert f["buffered"] == 300000 * k
    assert f["shared"] == 400000 * k
    assert (f["huge_pages_total"], f["huge_pages_free"]) == (16, 8)  # pages, not bytes
    assert f["huge_page_size"] == 2048 * k
    assert f["vmalloc_total"] == 0  # absent from this file: 0, as Telegraf
    assert f["used_percent"] == 43.75
    assert f["available_percent"] == 56.25


DISKSTATS = """ 253       0 vda 100 10 2000 50 200 20 4000 80 1 120 300 0 0 0 0
   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0
"""


def test_diskio_reads_diskstats_with_telegrafs_names(tmp_path: Path) -> None:
    from fleetmon_agent.collectors import diskio

    (tmp_path / "diskstats").write_text(DISKSTATS)
    clock = FakeClock(10 * NS)
    c = diskio.SPEC.create(Context(proc_root=str(tmp_path), monotonic=clock.seconds))
    (first,) = c.collect(1.0)
    assert first.tags == {"name": "vda"}  # loop* left out by default
    assert first.fields == {
        "reads": 100,
        "merged_reads": 10,
        "read_bytes": 2000 * 512,
        "read_time": 50,
        "writes": 200,
        "merged_writes": 20,
        "write_bytes": 4000 * 512,
        "write_time": 80,
        "iops_in_progress": 1,
        "io_time": 120,
        "weighted_io_time": 300,
    }
    (tmp_path / "diskstats").write_text(
        " 253       0 vda 110 10 2100 70 240 20 4400 120 0 620 900 0 0 0 0\n"
    )
    clock.advance(1.0)
    (second,) = c.collect(2.0)
    # Telegraf: await = (drt + dwt) / (dr + dw), svctm = dio / (dr + dw), util = dio / dt
    assert second.fields["io_await"] == 60 / 50
    assert second.fields["io_svctm"] == 500 / 50
    assert second.fields["io_util"] == 50.0


def test_kernel_reads_proc_stat_and_entropy(tmp_path: Path) -> None:
    from fleetmon_agent.collectors import kernel

    (tmp_path / "stat").write_text(
        "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 12345 0 1 2\n"
        "ctxt 678\nbtime 1700000000\nprocesses 910\nprocs_running 3\nprocs_blocked 1\n"
    )
    (tmp_path / "sys" / "kernel" / "random").mkdir(parents=True)
    (tmp_path / "sys" / "kernel" / "random" / "entropy_avail").write_text("256\n")
    (point,) = kernel.SPEC.create(Context(proc_root=str(tmp_path))).collect(1.0)
    assert point.fields == {
        "interrupts": 12345,
        "context_switches": 678,
        "boot_time": 1700000000,
        "processes_forked": 910,
        "entropy_avail": 256,
    }
    assert point.extra is None
    (exposed,) = kernel.SPEC.create(Context(proc_root=str(tmp_path), expose=True)).collect(1.0)
    assert exposed.extra == {"procs_running": 3, "procs_blocked": 1}
