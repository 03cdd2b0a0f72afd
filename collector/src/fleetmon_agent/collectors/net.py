"""`net`: cumulative traffic counters per interface (loopback left out by default)."""

from __future__ import annotations

import fnmatch
import os

from fleetmon_agent.collectors.base import CollectorOptions, CollectorSpec, Context, every
from fleetmon_agent.options import Option, TextList
from fleetmon_agent.points import FieldValue, Point
from fleetmon_agent.schema import COUNTER, GAUGE, Field, Measurement, Prom, Tag

_FIELDS = (
    ("bytes_sent", "bytes_sent"),
    ("bytes_recv", "bytes_recv"),
    ("packets_sent", "packets_sent"),
    ("packets_recv", "packets_recv"),
    ("errin", "err_in"),
    ("errout", "err_out"),
    ("dropin", "drop_in"),
    ("dropout", "drop_out"),
)


def _node(statistic: str) -> Prom:
    return Prom(f"node_network_{statistic}_total", f"Network device statistic {statistic}.")


class NetOptions(CollectorOptions):
    """`collectors.net`."""

    interval = every(5.0)
    interfaces = Option([], TextList(), "glob patterns; empty: all but ignore_interfaces")
    ignore_interfaces = Option(["lo"], TextList(), "glob patterns left out")


MEASUREMENT = Measurement(
    "net",
    "Network interface counters",
    (Tag("interface", "interface name"),),
    (
        Field("bytes_sent", int, COUNTER, "bytes", "bytes sent", prom=_node("transmit_bytes")),
        Field("bytes_recv", int, COUNTER, "bytes", "bytes received", prom=_node("receive_bytes")),
        Field("packets_sent", int, COUNTER, "packets", "packets sent",
              prom=_node("transmit_packets")),
        Field("packets_recv", int, COUNTER, "packets", "packets received",
              prom=_node("receive_packets")),
        Field("err_in", int, COUNTER, "packets", "receive errors", prom=_node("receive_errs")),
        Field("err_out", int, COUNTER, "packets", "transmit errors", prom=_node("transmit_errs")),
        Field("drop_in", int, COUNTER, "packets", "received packets dropped",
              prom=_node("receive_drop")),
        Field("drop_out", int, COUNTER, "packets", "transmitted packets dropped",
              prom=_node("transmit_drop")),
        Field("speed", int, GAUGE, "Mbit/s", "link speed; -1 where the interface has none",
              prom=Prom("node_network_speed_bytes", "Network device property: speed_bytes",
                        scale=125000.0)),
    ),
    source="telegraf inputs.net",
    labels_of=lambda tags, extra: {"device": tags.get("interface", "")},
)  # fmt: skip


class NetCollector:
    """Telegraf's `net` measurement."""

    def __init__(self, ctx: Context, options: NetOptions) -> None:
        self.ctx = ctx
        self.interfaces: list[str] = list(options.interfaces)
        self.ignore: list[str] = list(options.ignore_interfaces)

    def _wanted(self, name: str) -> bool:
        if self.interfaces:
            return any(fnmatch.fnmatchcase(name, p) for p in self.interfaces)
        return not any(fnmatch.fnmatchcase(name, p) for p in self.ignore)

    def _speed(self, name: str) -> int:
        # As Telegraf: /sys/class/net/<if>/speed, -1 when absent or unreadable (EINVAL
        # for interfaces without a link, such as a bridge with nothing up).
        try:
            with open(os.path.join(self.ctx.sys_root, "class", "net", name, "speed"), "rb") as f:
                return int(f.read())
        except (OSError, ValueError):
            return -1

    def collect(self, now: float) -> list[Point]:
        """One point per interface."""
        counters = self.ctx.ps().net_io_counters(pernic=True) or {}
        points: list[Point] = []
        for name, c in sorted(counters.items()):
            if self._wanted(name):
                fields: dict[str, FieldValue] = {out: int(getattr(c, src)) for src, out in _FIELDS}
                fields["speed"] = self._speed(name)
                points.append(Point("net", now, {"interface": name}, fields))
        return points


def create(ctx: Context, options: NetOptions) -> NetCollector:
    """Build the collector."""
    return NetCollector(ctx, options)


SPEC = CollectorSpec("net", "network interface traffic", NetOptions, create, (MEASUREMENT,))
