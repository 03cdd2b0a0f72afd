"""`disk`: usage and inodes per mount; pseudo and duplicate filesystems left out."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.options import Boolean, Option, TextList
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import GAUGE, Field, Measurement, Prom, Tag

# Telegraf's default ignore_fs plus the kernel's pseudo filesystems.
DEFAULT_IGNORE_FS = [
    "tmpfs",
    "devtmpfs",
    "devfs",
    "iso9660",
    "overlay",
    "aufs",
    "squashfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "nsfs",
    "autofs",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "ramfs",
    "binfmt_misc",
    "efivarfs",
    "rpc_pipefs",
    "devpts",
    "fuse.lxcfs",
]


def _node_labels(tags: Mapping[str, str], extra: Mapping[str, FieldValue]) -> dict[str, str]:
    # node_exporter's labels: the device as mounted (/dev/sda1), not Telegraf's sda1.
    return {
        "device": str(extra.get("device", tags.get("device", ""))),
        "fstype": tags.get("fstype", ""),
        "mountpoint": tags.get("path", ""),
    }


def _free_bytes(p: Point) -> float | None:
    # node_exporter's free counts the blocks reserved for root too: size - used.
    total, used = p.fields.get("total"), p.fields.get("used")
    return float(total - used) if isinstance(total, int) and isinstance(used, int) else None


def _readonly(p: Point) -> float:
    return 1.0 if p.tags.get("mode") == "ro" else 0.0


class DiskOptions(CollectorOptions):
    """`collectors.disk`."""

    interval = every(30.0)
    ignore_fs = Option(DEFAULT_IGNORE_FS, TextList(), "filesystem types left out")
    mount_points = Option([], TextList(), "glob patterns; empty: all")
    include_duplicates = Option(False, Boolean(), "bind mounts of an already seen device")


MEASUREMENT = Measurement(
    "disk",
    "Filesystem space and inodes per mount",
    (
        Tag("path", "mount point"),
        Tag("device", "device with /dev/ left out (sda1, mapper/vg-root); else the fs type"),
        Tag("fstype", "filesystem type"),
        Tag("mode", "rw or ro"),
    ),
    (
        Field("total", int, GAUGE, "bytes", "size",
              prom=Prom("node_filesystem_size_bytes", "Filesystem size in bytes.")),
        Field("free", int, GAUGE, "bytes", "space available to unprivileged users",
              prom=Prom("node_filesystem_avail_bytes",
                        "Filesystem space available to non-root users in bytes.")),
        Field("used", int, GAUGE, "bytes", "space in use"),
        Field("used_percent", float, GAUGE, "percent", "used / (used + free)"),
        Field("inodes_total", int, GAUGE, "inodes", "inodes",
              prom=Prom("node_filesystem_files", "Filesystem total file nodes.")),
        Field("inodes_free", int, GAUGE, "inodes", "free inodes",
              prom=Prom("node_filesystem_files_free", "Filesystem total free file nodes.")),
        Field("inodes_used", int, GAUGE, "inodes", "inodes in use"),
        Field("inodes_used_percent", float, GAUGE, "percent", "inodes_used / inodes_total"),
    ),
    source="telegraf inputs.disk",
    labels_of=_node_labels,
    derived=(
        Prom("node_filesystem_free_bytes", "Filesystem free space in bytes.", value=_free_bytes),
        Prom("node_filesystem_readonly", "Filesystem read-only status.", value=_readonly),
    ),
)  # fmt: skip


class DiskCollector:
    """Telegraf's `disk` measurement, one point per real mount."""

    def __init__(self, ctx: Context, options: DiskOptions) -> None:
        self.ctx = ctx
        self.ignore_fs: set[str] = set(options.ignore_fs)
        self.mount_points: list[str] = list(options.mount_points)
        self.include_duplicates = options.include_duplicates

    def collect(self, now: float) -> list[Point]:
        """One point per mount that passes the filters."""
        points: list[Point] = []
        seen: set[str] = set()
        for part in self.ctx.ps().disk_partitions(all=True):
            if part.fstype in self.ignore_fs or not part.fstype:
                continue
            if self.mount_points and not any(
                fnmatch.fnmatchcase(part.mountpoint, pat) for pat in self.mount_points
            ):
                continue
            # Bind mounts and btrfs subvolumes show the same device again.
            if part.device in seen and not self.include_duplicates:
                continue
            seen.add(part.device)
            try:
                st = self.ctx.statvfs(part.mountpoint)
            except OSError:
                continue
            if st.f_blocks == 0:  # size-less pseudo filesystem
                continue
            total = st.f_blocks * st.f_frsize
            free = st.f_bavail * st.f_frsize
            used = (st.f_blocks - st.f_bfree) * st.f_frsize
            denom = used + free
            device = part.device if part.device not in ("", "none") else part.fstype
            tags = {
                "path": part.mountpoint,
                "device": device.replace("/dev/", ""),  # as Telegraf does
                "fstype": part.fstype,
                "mode": "ro" if "ro" in part.opts.split(",") else "rw",
            }
            inodes_used = int(st.f_files - st.f_ffree)
            fields: dict[str, FieldValue] = {
                "total": int(total),
                "free": int(free),
                "used": int(used),
                "used_percent": round(100.0 * used / denom, 3) if denom else 0.0,
                "inodes_total": int(st.f_files),
                "inodes_free": int(st.f_ffree),
                "inodes_used": inodes_used,
                "inodes_used_percent": (
                    round(100.0 * inodes_used / st.f_files, 3) if st.f_files else 0.0
                ),
            }
            # Pull mode's labels are node_exporter's: the device as mounted (/dev/sda1).
            extra: dict[str, FieldValue] | None = (
                {"device": part.device} if self.ctx.expose else None
            )
            points.append(Point("disk", now, tags, fields, extra))
        return points


def create(ctx: Context, options: DiskOptions) -> DiskCollector:
    """Build the collector."""
    return DiskCollector(ctx, options)


SPEC = CollectorSpec("disk", "filesystem usage per mount", DiskOptions, create, (MEASUREMENT,))
