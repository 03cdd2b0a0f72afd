"""`procstat`: the top N processes by CPU and by memory."""

from __future__ import annotations

import os

from fleetmon_agent.collectors import procscan
from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.options import Integer, Option
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, INFO, Field, Measurement, Tag


class ProcstatOptions(CollectorOptions):
    """`collectors.procstat`."""

    interval = every(15.0)
    top_n = Option(5, Integer(1, 100), "top N by CPU plus top N by memory")
    cmdline_max = Option(200, Integer(0, 4096), "characters kept of each command line")


MEASUREMENT = Measurement(
    "procstat",
    "The top processes by CPU and by memory",
    (
        Tag("process_name", "the process's name (comm)"),
        # A tag, as Telegraf's `pid_tag = true` makes it, and then not also a field:
        # InfluxDB 3 refuses a tag and a field of the same name in one measurement.
        Tag("pid", "process id"),
        Tag("user", "owner's user name"),
    ),
    (
        Field("cpu_usage", float, GAUGE, "percent", "CPU since the previous run, of one core"),
        Field("cpu_time_user", float, COUNTER, "seconds", "CPU time in user mode"),
        Field("cpu_time_system", float, COUNTER, "seconds", "CPU time in kernel mode"),
        Field("memory_rss", int, GAUGE, "bytes", "resident memory"),
        Field("memory_usage", float, GAUGE, "percent", "memory_rss / physical memory"),
        Field("num_threads", int, GAUGE, "threads", "threads"),
        Field("created_at", int, GAUGE, "nanoseconds", "start time, since the epoch"),
        # fleetmon's own (Telegraf can only make the command line a tag: a series per value)
        Field("cmdline", str, INFO, "", "command line, truncated to cmdline_max"),
    ),
    source="telegraf inputs.procstat",
)


def _user_of(proc_root: str, pid: int, cache: dict[int, str]) -> str:
    try:
        with open(os.path.join(proc_root, str(pid), "status")) as f:
            uid = next((int(line.split()[1]) for line in f if line.startswith("Uid:")), -1)
    except (OSError, ValueError):
        return ""
    if uid not in cache:
        try:
            import pwd

            cache[uid] = pwd.getpwuid(uid).pw_name
        except (ImportError, KeyError):
            cache[uid] = str(uid)
    return cache[uid]


def _rss_of(proc_root: str, pid: int, page: int) -> int | None:
    # stat's resident size (which ranks every process) leaves out what still sits in
    # per-CPU counters; statm sums them, as psutil and Telegraf report it.
    try:
        with open(os.path.join(proc_root, str(pid), "statm"), "rb") as f:
            return int(f.read().split()[1]) * page
    except (OSError, IndexError, ValueError):
        return None


def _cmdline_of(proc_root: str, pid: int, limit: int) -> str:
    try:
        with open(os.path.join(proc_root, str(pid), "cmdline"), "rb") as f:
            raw = f.read(limit * 4 + 4)
    except OSError:
        return ""
    text = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    return text[:limit]


class ProcstatCollector:
    """Top processes as Telegraf `procstat`-style points; CPU from deltas between calls."""

    def __init__(self, ctx: Context, options: ProcstatOptions) -> None:
        self.ctx = ctx
        self.top_n = options.top_n
        self.cmdline_max = options.cmdline_max
        self._prev: dict[tuple[int, float], float] = {}
        self._prev_time: float | None = None
        self._users: dict[int, str] = {}
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def _total_memory(self) -> int:
        return int(self.ctx.ps().virtual_memory().total)

    def collect(self, now: float) -> list[Point]:
        """Points for the union of the top N by CPU and the top N by resident memory."""
        procs = procscan.scan(self.ctx)
        elapsed = None if self._prev_time is None else now - self._prev_time
        cpu: dict[int, float] = {}
        current: dict[tuple[int, float], float] = {}
        for p in procs:
            key = (p.pid, p.create_time)  # pids are reused; the start time tells them apart
            current[key] = p.cpu_seconds
            before = self._prev.get(key)
            if before is not None and elapsed and elapsed > 0:
                cpu[p.pid] = 100.0 * max(p.cpu_seconds - before, 0.0) / elapsed
            else:  # first sight: average over the process's life so far
                age = now - p.create_time
                cpu[p.pid] = 100.0 * p.cpu_seconds / age if age > 0 else 0.0
        self._prev, self._prev_time = current, now
        by_cpu = sorted(procs, key=lambda p: cpu[p.pid], reverse=True)[: self.top_n]
        by_mem = sorted(procs, key=lambda p: p.rss, reverse=True)[: self.top_n]
        total = self._total_memory() or 1
        points: list[Point] = []
        emitted: set[int] = set()
        for p in by_cpu + by_mem:
            if p.pid in emitted:
                continue
            emitted.add(p.pid)
            rss = _rss_of(self.ctx.proc_root, p.pid, self._page)
            if rss is None:
                rss = p.rss
            tags = {
                "process_name": p.name,
                "pid": str(p.pid),
                "user": _user_of(self.ctx.proc_root, p.pid, self._users),
            }
            fields: dict[str, FieldValue] = {
                "cpu_usage": round(cpu[p.pid], 3),
                "cpu_time_user": round(p.cpu_user, 2),
                "cpu_time_system": round(max(p.cpu_seconds - p.cpu_user, 0.0), 2),
                "memory_rss": rss,
                "memory_usage": round(100.0 * rss / total, 3),
                "num_threads": p.num_threads,
                "created_at": round(p.create_time * 1000.0) * 1_000_000,  # ticks: ms is exact
                "cmdline": _cmdline_of(self.ctx.proc_root, p.pid, self.cmdline_max),
            }
            points.append(Point("procstat", now, tags, fields))
        return points


def create(ctx: Context, options: ProcstatOptions) -> ProcstatCollector:
    """Build the collector."""
    return ProcstatCollector(ctx, options)


SPEC = CollectorSpec(
    "procstat", "top processes", ProcstatOptions, create, (MEASUREMENT,), heavy=True
)
