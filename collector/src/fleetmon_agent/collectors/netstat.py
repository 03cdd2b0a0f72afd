"""`netstat`: TCP connections by state and UDP socket count, read from /proc/net."""

from __future__ import annotations

import os

from fleetmon_agent.collectors.base import Context, Options
from fleetmon_agent.points import FieldValue, Point

# Kernel TCP state numbers (include/net/tcp_states.h) -> Telegraf field names.
TCP_STATES = {
    "01": "tcp_established",
    "02": "tcp_syn_sent",
    "03": "tcp_syn_recv",
    "04": "tcp_fin_wait1",
    "05": "tcp_fin_wait2",
    "06": "tcp_time_wait",
    "07": "tcp_close",
    "08": "tcp_close_wait",
    "09": "tcp_last_ack",
    "0A": "tcp_listen",
    "0B": "tcp_closing",
}
_PSUTIL_STATES = {
    "ESTABLISHED": "tcp_established",
    "SYN_SENT": "tcp_syn_sent",
    "SYN_RECV": "tcp_syn_recv",
    "FIN_WAIT1": "tcp_fin_wait1",
    "FIN_WAIT2": "tcp_fin_wait2",
    "TIME_WAIT": "tcp_time_wait",
    "CLOSE": "tcp_close",
    "CLOSE_WAIT": "tcp_close_wait",
    "LAST_ACK": "tcp_last_ack",
    "LISTEN": "tcp_listen",
    "CLOSING": "tcp_closing",
}


def _table_rows(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            next(f, None)  # header
            return [line.split() for line in f]
    except OSError:
        return []


class NetstatCollector:
    """Telegraf's `netstat` measurement; /proc/net is far cheaper than walking sockets."""

    def __init__(self, ctx: Context, options: Options) -> None:
        self.ctx = ctx

    def collect(self, now: float) -> list[Point]:
        """One `netstat` point."""
        fields: dict[str, FieldValue] = {name: 0 for name in TCP_STATES.values()}
        fields["tcp_none"] = 0
        net = os.path.join(self.ctx.proc_root, "net")
        if os.path.isdir(net):
            for table in ("tcp", "tcp6"):
                for row in _table_rows(os.path.join(net, table)):
                    if len(row) > 3:
                        key = TCP_STATES.get(row[3].upper(), "tcp_none")
                        fields[key] = int(fields[key]) + 1
            fields["udp_socket"] = sum(
                len(_table_rows(os.path.join(net, t))) for t in ("udp", "udp6")
            )
        else:  # not Linux: ask psutil (may need privileges on some platforms)
            udp = 0
            for conn in self.ctx.ps().net_connections(kind="inet"):
                if conn.type == 2:  # SOCK_DGRAM
                    udp += 1
                else:
                    key = _PSUTIL_STATES.get(conn.status, "tcp_none")
                    fields[key] = int(fields[key]) + 1
            fields["udp_socket"] = udp
        return [Point("netstat", now, {}, fields)]


def create(ctx: Context, options: Options) -> NetstatCollector:
    """Build the collector."""
    return NetstatCollector(ctx, options)
