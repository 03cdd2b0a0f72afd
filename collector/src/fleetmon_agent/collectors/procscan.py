"""One pass over the process table, shared by `processes` and `procstat` in the same tick."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from fleetmon_agent.collectors.base import Context

_CACHE_KEY = "procscan"
_FRESH_SECONDS = 1.0


class Proc(NamedTuple):
    """What one /proc/<pid>/stat line says about a process."""

    pid: int
    name: str
    state: str
    cpu_seconds: float
    num_threads: int
    create_time: float
    rss: int


def _boot_time(proc_root: str) -> float:
    with open(os.path.join(proc_root, "stat")) as f:
        for line in f:
            if line.startswith("btime"):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def parse_stat(pid: int, raw: bytes, tick: float, page: int, boot: float) -> Proc | None:
    """Parse /proc/<pid>/stat; the name is in parentheses and may itself hold ')' or spaces."""
    open_i, close_i = raw.find(b"("), raw.rfind(b")")
    if open_i < 0 or close_i < 0:
        return None
    rest = raw[close_i + 2 :].split(None, 22)  # fields past rss are never needed
    if len(rest) < 22:
        return None
    return Proc(
        pid=pid,
        name=raw[open_i + 1 : close_i].decode("utf-8", "replace"),
        state=rest[0].decode(),
        cpu_seconds=(int(rest[11]) + int(rest[12])) / tick,
        num_threads=int(rest[17]),
        create_time=boot + int(rest[19]) / tick,
        rss=int(rest[21]) * page,
    )


def _scan_procfs(root: str) -> list[Proc]:
    tick = float(os.sysconf("SC_CLK_TCK"))
    page = os.sysconf("SC_PAGE_SIZE")
    boot = _boot_time(root)
    procs: list[Proc] = []
    # Raw os.open/os.read relative to an open /proc: with hundreds of processes the
    # buffered text layer and the path walk cost as much as the kernel's work.
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for entry in os.listdir(root_fd):
            if not entry.isdigit():
                continue
            try:
                fd = os.open(f"{entry}/stat", os.O_RDONLY, dir_fd=root_fd)
            except OSError:  # the process exited between listdir and open
                continue
            try:
                raw = os.read(fd, 4096)
            except OSError:
                continue
            finally:
                os.close(fd)
            proc = parse_stat(int(entry), raw, tick, page, boot)
            if proc is not None:
                procs.append(proc)
    finally:
        os.close(root_fd)
    return procs


_PSUTIL_STATE = {
    "running": "R",
    "sleeping": "S",
    "disk-sleep": "D",
    "stopped": "T",
    "tracing-stop": "t",
    "zombie": "Z",
    "dead": "X",
    "idle": "I",
    "waking": "W",
}


def _scan_psutil(ps: Any) -> list[Proc]:
    attrs = ["pid", "name", "status", "num_threads", "cpu_times", "memory_info", "create_time"]
    procs: list[Proc] = []
    for p in ps.process_iter(attrs=attrs, ad_value=None):
        i = p.info
        cpu = i["cpu_times"]
        mem = i["memory_info"]
        procs.append(
            Proc(
                pid=i["pid"],
                name=i["name"] or "",
                state=_PSUTIL_STATE.get(i["status"] or "", "?"),
                cpu_seconds=(cpu.user + cpu.system) if cpu else 0.0,
                num_threads=i["num_threads"] or 0,
                create_time=i["create_time"] or 0.0,
                rss=mem.rss if mem else 0,
            )
        )
    return procs


def scan(ctx: Context) -> list[Proc]:
    """All processes; collectors running in the same tick share one scan."""
    now = ctx.monotonic()
    cached = ctx.shared.get(_CACHE_KEY)
    if cached is not None and now - cached[0] < _FRESH_SECONDS:
        return cached[1]  # type: ignore[no-any-return]
    if os.path.exists(os.path.join(ctx.proc_root, "stat")):
        procs = _scan_procfs(ctx.proc_root)
    else:
        procs = _scan_psutil(ctx.ps())
    ctx.shared[_CACHE_KEY] = (now, procs)
    return procs
