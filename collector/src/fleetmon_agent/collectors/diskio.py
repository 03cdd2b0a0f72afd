"""`diskio`: cumulative I/O counters per block device (on Linux from /proc/diskstats)."""

from __future__ import annotations

import fnmatch
import os
from typing import NamedTuple

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.options import Option, TextList
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement, Prom, Tag

DEFAULT_IGNORE_DEVICES = ["loop*", "ram*"]
SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's sector size


class DiskioOptions(CollectorOptions):
    """`collectors.diskio`."""

    interval = every(5.0)
    devices = Option([], TextList(), "glob patterns; empty: all but ignore_devices")
    ignore_devices = Option(DEFAULT_IGNORE_DEVICES, TextList(), "glob patterns left out")


MEASUREMENT = Measurement(
    "diskio",
    "Block device I/O counters",
    (Tag("name", "device name (sda, nvme0n1, dm-0, ...)"),),
    (
        Field("reads", int, COUNTER, "operations", "reads completed",
              prom=Prom("node_disk_reads_completed_total",
                        "The total number of reads completed successfully.")),
        Field("writes", int, COUNTER, "operations", "writes completed",
              prom=Prom("node_disk_writes_completed_total",
                        "The total number of writes completed successfully.")),
        Field("read_bytes", int, COUNTER, "bytes", "bytes read",
              prom=Prom("node_disk_read_bytes_total",
                        "The total number of bytes read successfully.")),
        Field("write_bytes", int, COUNTER, "bytes", "bytes written",
              prom=Prom("node_disk_written_bytes_total",
                        "The total number of bytes written successfully.")),
        Field("read_time", int, COUNTER, "milliseconds", "time reads spent queued and served",
              prom=Prom("node_disk_read_time_seconds_total",
                        "The total number of seconds spent by all reads.", scale=0.001)),
        Field("write_time", int, COUNTER, "milliseconds", "time writes spent queued and served",
              prom=Prom("node_disk_write_time_seconds_total",
                        "This is the total number of seconds spent by all writes.", scale=0.001)),
        Field("io_time", int, COUNTER, "milliseconds", "time with at least one I/O in flight",
              prom=Prom("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.",
                        scale=0.001)),
        Field("weighted_io_time", int, COUNTER, "milliseconds", "io_time weighted by queue",
              prom=Prom("node_disk_io_time_weighted_seconds_total",
                        "The weighted # of seconds spent doing I/Os.", scale=0.001)),
        Field("iops_in_progress", int, GAUGE, "operations", "I/Os issued, not yet completed",
              prom=Prom("node_disk_io_now", "The number of I/Os currently in progress.")),
        Field("merged_reads", int, COUNTER, "operations", "adjacent reads merged",
              prom=Prom("node_disk_reads_merged_total", "The total number of reads merged.")),
        Field("merged_writes", int, COUNTER, "operations", "adjacent writes merged",
              prom=Prom("node_disk_writes_merged_total", "The number of writes merged.")),
        # From the previous sample (so not in a device's first point), as Telegraf does.
        Field("io_util", float, GAUGE, "percent", "share of the time the device was busy"),
        Field("io_await", float, GAUGE, "milliseconds", "average time per I/O, queue included"),
        Field("io_svctm", float, GAUGE, "milliseconds", "average service time per I/O"),
    ),
    source="telegraf inputs.diskio",
    labels_of=lambda tags, extra: {"device": tags.get("name", "")},
)  # fmt: skip


class Stats(NamedTuple):
    """One device's line of /proc/diskstats, in Telegraf's names."""

    reads: int
    merged_reads: int
    read_bytes: int
    read_time: int
    writes: int
    merged_writes: int
    write_bytes: int
    write_time: int
    iops_in_progress: int
    io_time: int
    weighted_io_time: int


def parse_diskstats(text: str) -> dict[str, Stats]:
    """/proc/diskstats by device name."""
    out: dict[str, Stats] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 14:
            continue
        n = [int(x) for x in f[3:14]]
        out[f[2]] = Stats(
            n[0], n[1], n[2] * SECTOR, n[3], n[4], n[5], n[6] * SECTOR, n[7], n[8], n[9], n[10]
        )
    return out


def _from_psutil(counters: dict[str, object]) -> dict[str, Stats]:
    """The same records from psutil, where there is no /proc/diskstats."""

    def g(c: object, name: str) -> int:
        return int(getattr(c, name, 0))

    return {
        name: Stats(
            g(c, "read_count"), g(c, "read_merged_count"), g(c, "read_bytes"), g(c, "read_time"),
            g(c, "write_count"), g(c, "write_merged_count"), g(c, "write_bytes"),
            g(c, "write_time"), 0, g(c, "busy_time"), 0,
        )
        for name, c in counters.items()
    }  # fmt: skip


class DiskioCollector:
    """Telegraf's `diskio` measurement; counters stay counters."""

    def __init__(self, ctx: Context, options: DiskioOptions) -> None:
        self.ctx = ctx
        self.devices: list[str] = list(options.devices)
        self.ignore: list[str] = list(options.ignore_devices)
        self.path = os.path.join(ctx.proc_root, "diskstats")
        self._prev: dict[str, Stats] = {}
        self._prev_at = 0.0

    def _wanted(self, name: str) -> bool:
        if self.devices:
            return any(fnmatch.fnmatchcase(name, p) for p in self.devices)
        return not any(fnmatch.fnmatchcase(name, p) for p in self.ignore)

    def _read(self) -> dict[str, Stats]:
        try:
            with open(self.path) as f:
                return parse_diskstats(f.read())
        except FileNotFoundError:  # not Linux
            return _from_psutil(self.ctx.ps().disk_io_counters(perdisk=True) or {})

    def collect(self, now: float) -> list[Point]:
        """One point per device."""
        stats, at = self._read(), self.ctx.monotonic()
        elapsed_ms = (at - self._prev_at) * 1000.0
        points: list[Point] = []
        current: dict[str, Stats] = {}
        for name, s in sorted(stats.items()):
            if not self._wanted(name):
                continue
            current[name] = s
            fields: dict[str, FieldValue] = dict(s._asdict())
            before = self._prev.get(name)
            if before is not None:
                fields.update(_derived(before, s, elapsed_ms))
            points.append(Point("diskio", now, {"name": name}, fields))
        self._prev, self._prev_at = current, at
        return points


def _derived(before: Stats, s: Stats, elapsed_ms: float) -> dict[str, FieldValue]:
    """Telegraf's io_util, io_await and io_svctm between two samples (none after a wrap)."""
    if (
        s.reads < before.reads
        or s.writes < before.writes
        or s.read_time < before.read_time
        or s.write_time < before.write_time
        or s.io_time < before.io_time
    ):
        return {}
    ops = (s.reads - before.reads) + (s.writes - before.writes)
    busy = float(s.io_time - before.io_time)
    out: dict[str, FieldValue] = {}
    if ops > 0:
        rw_time = (s.read_time - before.read_time) + (s.write_time - before.write_time)
        out["io_await"] = round(rw_time / ops, 3)
        out["io_svctm"] = round(busy / ops, 3)
    if elapsed_ms > 0:
        out["io_util"] = round(100.0 * busy / elapsed_ms, 3)
    return out


def create(ctx: Context, options: DiskioOptions) -> DiskioCollector:
    """Build the collector."""
    return DiskioCollector(ctx, options)


SPEC = CollectorSpec("diskio", "block device I/O", DiskioOptions, create, (MEASUREMENT,))
