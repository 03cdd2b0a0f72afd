"""One pass over the process table, shared by `processes` and `procstat` in the same tick."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from fleetmon_agent.collectors.base import Context

_CACHE_KEY = "procscan"
_READER_KEY = "procscan.reader"
_FRESH_SECONDS = 1.0
_FD_RESERVE = 256  # descriptors always left for sockets, spool files and the rest
_FD_MAX = 4096  # held /proc files at most (each pins ~1 KB of kernel memory)
_STAT_MAX = 4096  # a stat line is ~150-400 bytes; the name is at most 64


class Proc(NamedTuple):
    """What one /proc/<pid>/stat line says about a process."""

    pid: int
    name: str
    state: str
    cpu_seconds: float  # user + system
    num_threads: int
    create_time: float
    rss: int
    cpu_user: float = 0.0  # of which in user mode


def parse_stat(pid: int, raw: bytes, tick: float, page: int, boot: float) -> Proc | None:
    """Parse /proc/<pid>/stat; the name is in parentheses and may itself hold ')' or spaces."""
    open_i, close_i = raw.find(b"("), raw.rfind(b")")
    if open_i < 0 or close_i < 0:
        return None
    rest = raw[close_i + 2 :].split(None, 22)  # fields past rss are never needed
    if len(rest) < 22:
        return None
    try:
        return Proc(
            pid,
            raw[open_i + 1 : close_i].decode("utf-8", "replace"),
            rest[0].decode(),
            (int(rest[11]) + int(rest[12])) / tick,
            int(rest[17]),
            boot + int(rest[19]) / tick,
            int(rest[21]) * page,
            int(rest[11]) / tick,
        )
    except ValueError:
        return None


def _boot_time(proc_root: str) -> float:
    with open(os.path.join(proc_root, "stat")) as f:
        for line in f:
            if line.startswith("btime"):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _fd_budget() -> int:
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 0
    if soft == resource.RLIM_INFINITY:
        soft = _FD_MAX + _FD_RESERVE
    return max(min(soft - _FD_RESERVE, _FD_MAX), 0)


class StatReader:
    """Reads every /proc/<pid>/stat, keeping each file open between scans.

    Opening and closing a /proc file costs the kernel as much as producing its text, so
    a held descriptor read again with pread() halves the scan (as netdata's apps.plugin
    does). A held descriptor belongs to one process: once it has exited, reading fails
    with ESRCH, even if its pid was reused, and the pid is opened afresh. Descriptors stay
    within the open-files limit (minus a reserve); processes beyond that are read the
    plain way.
    """

    def __init__(self, proc_root: str, max_fds: int | None = None) -> None:
        self.root = proc_root
        self.max_fds = _fd_budget() if max_fds is None else max_fds
        self.fds: dict[str, int] = {}
        self.tick = float(os.sysconf("SC_CLK_TCK"))
        self.page = os.sysconf("SC_PAGE_SIZE")
        # Read once: btime moves by a second now and then as the clock is adjusted, which
        # would change every process's start time (procstat's key) between scans.
        self.boot = _boot_time(proc_root)

    def _read_new(self, root_fd: int, entry: str) -> bytes | None:
        try:
            fd = os.open(entry + "/stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=root_fd)
        except OSError:  # the process exited between listdir and open
            return None
        try:
            raw = os.read(fd, _STAT_MAX)
        except OSError:
            os.close(fd)
            return None
        if len(self.fds) < self.max_fds:
            self.fds[entry] = fd
        else:
            os.close(fd)
        return raw

    def scan(self) -> list[Proc]:
        """Every process now in the table (vanished ones are skipped)."""
        tick, page, boot = self.tick, self.page, self.boot
        fds = self.fds
        pread, close = os.pread, os.close
        procs: list[Proc] = []
        seen: set[str] = set()
        # Paths relative to an open /proc: with hundreds of processes the path walk costs
        # as much as the kernel's work.
        root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for entry in os.listdir(root_fd):
                if not entry.isdigit():
                    continue
                seen.add(entry)
                fd = fds.get(entry)
                raw: bytes | None = None
                if fd is not None:
                    try:
                        raw = pread(fd, _STAT_MAX, 0)
                    except OSError:  # ESRCH: that process is gone; the pid may be new
                        del fds[entry]
                        close(fd)
                if raw is None:
                    raw = self._read_new(root_fd, entry)
                    if raw is None:
                        continue
                proc = parse_stat(int(entry), raw, tick, page, boot)
                if proc is not None:
                    procs.append(proc)
        finally:
            os.close(root_fd)
        for entry in [e for e in fds if e not in seen]:
            close(fds.pop(entry))
        return procs

    def close(self) -> None:
        """Close every held descriptor."""
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


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


def scan_psutil(ps: Any) -> list[Proc]:
    """The same records from psutil, for systems without /proc."""
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
                cpu_user=cpu.user if cpu else 0.0,
            )
        )
    return procs


def scan(ctx: Context) -> list[Proc]:
    """All processes; collectors running in the same tick share one scan."""
    now = ctx.monotonic()
    cached = ctx.shared.get(_CACHE_KEY)
    if cached is not None and now - cached[0] < _FRESH_SECONDS:
        return cached[1]  # type: ignore[no-any-return]
    reader = ctx.shared.get(_READER_KEY)
    if reader is None and os.path.exists(os.path.join(ctx.proc_root, "stat")):
        reader = ctx.shared[_READER_KEY] = StatReader(ctx.proc_root)
    procs = reader.scan() if reader is not None else scan_psutil(ctx.ps())
    ctx.shared[_CACHE_KEY] = (now, procs)
    return procs
