"""`mem`: physical memory, Telegraf's fields (on Linux from /proc/meminfo, as Telegraf does)."""

from __future__ import annotations

import os

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import GAUGE, Field, Measurement, Prom

# Telegraf field <- /proc/meminfo key, in bytes (meminfo says kB) unless noted in _COUNTS.
MEMINFO = {
    "total": "MemTotal",
    "free": "MemFree",
    "buffered": "Buffers",
    "active": "Active",
    "inactive": "Inactive",
    "shared": "Shmem",
    "slab": "Slab",
    "sreclaimable": "SReclaimable",
    "sunreclaim": "SUnreclaim",
    "commit_limit": "CommitLimit",
    "committed_as": "Committed_AS",
    "dirty": "Dirty",
    "write_back": "Writeback",
    "write_back_tmp": "WritebackTmp",
    "mapped": "Mapped",
    "page_tables": "PageTables",
    "swap_cached": "SwapCached",
    "swap_total": "SwapTotal",
    "swap_free": "SwapFree",
    "high_total": "HighTotal",
    "high_free": "HighFree",
    "low_total": "LowTotal",
    "low_free": "LowFree",
    "vmalloc_total": "VmallocTotal",
    "vmalloc_used": "VmallocUsed",
    "vmalloc_chunk": "VmallocChunk",
    "huge_pages_total": "HugePages_Total",
    "huge_pages_free": "HugePages_Free",
    "huge_page_size": "Hugepagesize",
}
_COUNTS = {"HugePages_Total", "HugePages_Free"}  # pages, not kB
_HELP = {
    "total": "physical memory",
    "free": "memory not used for anything",
    "buffered": "block device buffers",
    "active": "memory used recently",
    "inactive": "memory not used recently (reclaimed first)",
    "shared": "shared memory, tmpfs included",
    "slab": "kernel data structures",
    "sreclaimable": "kernel data structures that can be reclaimed",
    "sunreclaim": "kernel data structures that cannot be reclaimed",
    "commit_limit": "the most that can be allocated under strict overcommit",
    "committed_as": "memory allocated (committed) by all processes",
    "dirty": "waiting to be written to disk",
    "write_back": "being written to disk",
    "write_back_tmp": "being written back by FUSE",
    "mapped": "files mapped into memory",
    "page_tables": "page tables",
    "swap_cached": "swapped out, and back in, still in swap",
    "swap_total": "swap space",
    "swap_free": "swap space not in use",
    "high_total": "high memory (32-bit kernels)",
    "high_free": "free high memory (32-bit kernels)",
    "low_total": "low memory (32-bit kernels)",
    "low_free": "free low memory (32-bit kernels)",
    "vmalloc_total": "vmalloc address space",
    "vmalloc_used": "vmalloc address space in use",
    "vmalloc_chunk": "largest free block of vmalloc space",
    "huge_page_size": "size of a huge page",
}


def _node(key: str) -> Prom:
    """node_exporter's meminfo metric for a /proc/meminfo key (HugePages_* are counts),
    from the file's own line: only keys this kernel has, and Cached without SReclaimable."""
    name = f"node_memory_{key}" if key in _COUNTS else f"node_memory_{key}_bytes"

    def value(p: Point) -> float | None:
        v = p.extra.get(key) if p.extra else None
        return float(v) if isinstance(v, int) else None

    return Prom(name, f"Memory information field {name[len('node_memory_') :]}.", value=value)


class MemOptions(CollectorOptions):
    """`collectors.mem`."""

    interval = every(5.0)


MEASUREMENT = Measurement(
    "mem",
    "Physical memory (Telegraf's fields; on Linux from /proc/meminfo)",
    (),
    (
        Field("total", int, GAUGE, "bytes", _HELP["total"], prom=_node("MemTotal")),
        Field(
            "available",
            int,
            GAUGE,
            "bytes",
            "available for new work without swapping",
            prom=_node("MemAvailable"),
        ),
        Field("used", int, GAUGE, "bytes", "total - available"),
        Field("free", int, GAUGE, "bytes", _HELP["free"], prom=_node("MemFree")),
        Field("used_percent", float, GAUGE, "percent", "used / total"),
        Field("available_percent", float, GAUGE, "percent", "available / total"),
        Field("cached", int, GAUGE, "bytes", "page cache plus reclaimable slab (Telegraf's)"),
        *(
            Field(name, int, GAUGE, "bytes", _HELP[name], prom=_node(MEMINFO[name]))
            for name in MEMINFO
            if name not in ("total", "free", "huge_pages_total", "huge_pages_free")
        ),
        Field("huge_pages_total", int, GAUGE, "pages", "huge pages", prom=_node("HugePages_Total")),
        Field(
            "huge_pages_free",
            int,
            GAUGE,
            "pages",
            "huge pages not in use",
            prom=_node("HugePages_Free"),
        ),
        Field("wired", int, GAUGE, "bytes", "memory that cannot be paged out (BSD, macOS)"),
    ),
    source="telegraf inputs.mem",
    derived=(_node("Cached"),),
)


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as {key: bytes} (page counts stay counts)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and parts:
            try:
                n = int(parts[0])
            except ValueError:
                continue
            out[key] = n * 1024 if len(parts) > 1 and parts[1] == "kB" else n
    return out


def telegraf_fields(info: dict[str, int]) -> dict[str, FieldValue]:
    """Telegraf's `mem` fields from /proc/meminfo, computed as gopsutil does (cached
    includes reclaimable slab; used = total - available)."""
    fields: dict[str, FieldValue] = {name: info.get(key, 0) for name, key in MEMINFO.items()}
    total = info.get("MemTotal", 0)
    cached = info.get("Cached", 0) + info.get("SReclaimable", 0)
    available = info.get("MemAvailable", cached + info.get("MemFree", 0))  # before 3.14
    used = total - available
    fields["cached"] = cached
    fields["available"] = available
    fields["used"] = used
    fields["used_percent"] = round(100.0 * used / total, 3) if total else 0.0
    fields["available_percent"] = round(100.0 * available / total, 3) if total else 0.0
    return fields


class MemCollector:
    """Telegraf's `mem` measurement."""

    def __init__(self, ctx: Context, options: MemOptions) -> None:
        self.ctx = ctx
        self.path = os.path.join(ctx.proc_root, "meminfo")

    def collect(self, now: float) -> list[Point]:
        """One `mem` point."""
        try:
            with open(self.path) as f:
                info = parse_meminfo(f.read())
            # Pull mode serves the file's own lines (node_memory_<key>_bytes).
            extra: dict[str, FieldValue] | None = dict(info) if self.ctx.expose else None
            return [Point("mem", now, {}, telegraf_fields(info), extra)]
        except FileNotFoundError:  # not Linux
            return [Point("mem", now, {}, self._from_psutil())]

    def _from_psutil(self) -> dict[str, FieldValue]:
        vm = self.ctx.ps().virtual_memory()
        total = int(vm.total)
        fields: dict[str, FieldValue] = {
            "total": total,
            "available": int(vm.available),
            "used": int(vm.total - vm.available),
            "free": int(vm.free),
            "used_percent": round(100.0 * (vm.total - vm.available) / total, 3) if total else 0.0,
            "available_percent": round(100.0 * vm.available / total, 3) if total else 0.0,
        }
        for name, attr in (
            ("active", "active"),
            ("inactive", "inactive"),
            ("wired", "wired"),
            ("buffered", "buffers"),
            ("cached", "cached"),
        ):
            if hasattr(vm, attr):
                fields[name] = int(getattr(vm, attr))
        return fields


def create(ctx: Context, options: MemOptions) -> MemCollector:
    """Build the collector."""
    return MemCollector(ctx, options)


SPEC = CollectorSpec("mem", "physical memory", MemOptions, create, (MEASUREMENT,))
