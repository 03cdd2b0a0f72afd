"""The /proc process scan and the netlink socket count: fixtures, and the real kernel."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from fleetmon_agent.collectors import Context, netstat, processes
from fleetmon_agent.collectors.procscan import Proc, StatReader, parse_stat, scan_psutil

# A stat line's fields after the name: state ppid pgrp session tty tpgid flags minflt
# cminflt majflt cmajflt utime stime cutime cstime priority nice num_threads itrealvalue
# starttime vsize rss ...
ZOMBIE = b"77 (defunct child) Z 1 77 77 0 -1 4227148 0 0 0 0 3 1 0 0 20 0 1 0 9000 0 0 18446744"


def stat_line(pid: int, name: str, state: str = "S", ticks: int = 0, threads: int = 1) -> bytes:
    fields = f"{state} 1 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 {threads} 0 500 1000 7 0"
    return f"{pid} ({name}) {fields}\n".encode()


@pytest.mark.parametrize(
    "name",
    ["sh", "my (odd) name", "a) S 1 2 (b", ") )", "tmux: server", "((", "x" * 15],
)
def test_parse_stat_takes_the_name_up_to_the_last_parenthesis(name: str) -> None:
    p = parse_stat(42, stat_line(42, name, "R", 150, 3), 100.0, 4096, 1000.0)
    assert p == Proc(42, name, "R", 1.5, 3, 1005.0, 7 * 4096, 1.5)


def test_parse_stat_reads_zombies_and_refuses_damaged_lines() -> None:
    z = parse_stat(77, ZOMBIE, 100.0, 4096, 0.0)
    assert z is not None
    assert (z.name, z.state, z.cpu_seconds, z.num_threads, z.rss) == (
        "defunct child",
        "Z",
        0.04,
        1,
        0,
    )
    assert parse_stat(1, b"garbage", 100.0, 4096, 0.0) is None
    assert parse_stat(1, b"1 (x) S 1 2 3", 100.0, 4096, 0.0) is None  # cut short
    assert parse_stat(1, stat_line(1, "x").replace(b" 500 ", b" ?? "), 100.0, 4096, 0.0) is None
    assert parse_stat(1, b"", 100.0, 4096, 0.0) is None


def fake_proc(root: Path, procs: dict[int, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text("cpu  1 2 3\nbtime 1000\n")
    for pid, line in procs.items():
        (root / str(pid)).mkdir(exist_ok=True)
        (root / str(pid) / "stat").write_bytes(line)


def test_reader_keeps_files_open_and_drops_vanished_processes(tmp_path: Path) -> None:
    fake_proc(tmp_path, {1: stat_line(1, "init"), 2: stat_line(2, "a b"), 3: ZOMBIE})
    (tmp_path / "self").mkdir()
    reader = StatReader(str(tmp_path))
    assert sorted(p.pid for p in reader.scan()) == [1, 2, 3]
    assert set(reader.fds) == {"1", "2", "3"}
    (tmp_path / "2" / "stat").write_bytes(stat_line(2, "renamed", "R", 200, 4))  # same inode
    (tmp_path / "3" / "stat").unlink()
    (tmp_path / "3").rmdir()  # exited and reaped
    procs = {p.pid: p for p in reader.scan()}
    assert sorted(procs) == [1, 2]
    assert (procs[2].name, procs[2].state, procs[2].num_threads) == ("renamed", "R", 4)
    assert set(reader.fds) == {"1", "2"}
    reader.close()


def test_reader_stays_within_its_descriptor_budget(tmp_path: Path) -> None:
    fake_proc(tmp_path, {pid: stat_line(pid, f"p{pid}") for pid in range(1, 11)})
    reader = StatReader(str(tmp_path), max_fds=4)
    for _ in range(2):
        assert len(reader.scan()) == 10
        assert len(reader.fds) == 4
    reader.close()


def test_reader_on_real_proc_sees_zombies_and_forgets_exited_processes(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    zombie = subprocess.Popen(["true"])
    procs += [sleeper, zombie]
    deadline = time.monotonic() + 10
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not reaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    reader = StatReader("/proc")
    seen = {p.pid: p for p in reader.scan()}
    assert seen[zombie.pid].state == "Z"
    assert (seen[sleeper.pid].name, seen[sleeper.pid].state) == ("sleep", "S")
    assert seen[os.getpid()].num_threads >= 1
    sleeper.kill()
    sleeper.wait()
    zombie.wait()
    seen = {p.pid: p for p in reader.scan()}
    assert sleeper.pid not in seen
    assert zombie.pid not in seen
    assert str(sleeper.pid) not in reader.fds
    reader.close()


def test_reader_rereads_a_pid_whose_process_has_exited(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    # A root whose "pid" links to a real process: after that process exits, the held
    # descriptor answers ESRCH (as for a pid the kernel has since given to another
    # process) and the pid is opened afresh, here finding nothing.
    (tmp_path / "stat").write_text(Path("/proc/stat").read_text())
    first = subprocess.Popen(["sleep", "60"])
    procs.append(first)
    (tmp_path / "4242").symlink_to(f"/proc/{first.pid}")
    reader = StatReader(str(tmp_path))
    assert [p.name for p in reader.scan()] == ["sleep"]
    first.kill()
    first.wait()
    assert reader.scan() == []
    assert reader.fds == {}
    second = subprocess.Popen(["sleep", "60"])
    procs.append(second)
    (tmp_path / "4242").unlink()
    (tmp_path / "4242").symlink_to(f"/proc/{second.pid}")
    assert [(p.pid, p.name) for p in reader.scan()] == [(4242, "sleep")]
    reader.close()


def test_fast_scan_agrees_with_psutil_on_this_host(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    for _ in range(5):
        procs.append(subprocess.Popen(["sleep", "60"]))
    for c in procs:  # settled: asleep, done loading (resident memory no longer moving)
        p = psutil.Process(c.pid)
        deadline = time.monotonic() + 10
        while p.status() != psutil.STATUS_SLEEPING:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    time.sleep(0.2)
    ours = {p.pid: p for p in StatReader("/proc").scan()}
    theirs = {p.pid: p for p in scan_psutil(psutil)}
    for pid in [c.pid for c in procs]:
        a, b = ours[pid], theirs[pid]
        assert (a.name, a.state, a.num_threads) == (b.name, b.state, b.num_threads)
        # stat's resident size leaves out what still sits in per-CPU counters (statm, which
        # psutil reads, sums them): at most max(32, 2 x CPUs) pages per CPU.
        cpus = os.cpu_count() or 1
        assert abs(a.rss - b.rss) <= cpus * max(32, 2 * cpus) * os.sysconf("SC_PAGE_SIZE")
        assert a.cpu_seconds == pytest.approx(b.cpu_seconds, abs=0.011)
        assert a.create_time == pytest.approx(b.create_time, abs=1.0)
    # Processes come and go between the two scans, but not many.
    assert abs(len(ours) - len(theirs)) <= max(5, len(theirs) // 20)
    assert len(set(ours) & set(theirs)) >= 0.9 * len(theirs)


def test_processes_totals_match_psutil_on_this_host() -> None:
    fields = processes.SPEC.create(Context()).collect(1.0)[0].fields
    total = len(psutil.pids())
    assert abs(int(fields["total"]) - total) <= max(5, total // 20)
    assert int(fields["total_threads"]) >= int(fields["total"])
    assert int(fields["sleeping"]) + int(fields["idle"]) + int(fields["running"]) > 0


# --- netstat --------------------------------------------------------------------------


def diag_message(state: int, family: int = socket.AF_INET, kind: int = 18) -> bytes:
    body = bytes([family, state]) + bytes(70)  # the rest of struct inet_diag_msg
    payload = body + struct.pack("=HHB", 5, 9, 1)  # one 5-byte attribute: needs padding
    length = 16 + len(payload)
    msg = struct.pack("=IHHII", length, kind, 2, 1, 0) + payload
    return msg + bytes(-len(msg) % 4)


def test_parse_diag_counts_states_across_buffers_until_done() -> None:
    counts: dict[int, int] = {}
    first = diag_message(10) + diag_message(1, socket.AF_INET6) + diag_message(1)
    assert netstat.parse_diag(first, counts) is False
    done = struct.pack("=IHHII", 20, 3, 2, 1, 0) + bytes(4)
    assert netstat.parse_diag(diag_message(6) + diag_message(5, kind=1) + done, counts) is True
    assert counts == {10: 1, 1: 2, 6: 1}  # a message of another type is not a socket


def test_parse_diag_raises_the_kernels_error() -> None:
    err = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -1) + bytes(16)
    with pytest.raises(OSError, match="Operation not permitted"):
        netstat.parse_diag(err, {})
    with pytest.raises(OSError, match="malformed"):
        netstat.parse_diag(struct.pack("=IHHII", 4, 18, 0, 1, 0), {})


def test_netlink_and_proc_net_agree_on_this_host() -> None:
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client.connect(server.getsockname())
        accepted, _ = server.accept()
        with accepted:
            for _ in range(20):  # other sockets change state meanwhile: retry until equal
                via_netlink = netstat.netlink_tcp_states()
                via_proc = netstat.proc_tcp_states("/proc")
                if via_netlink == via_proc:
                    break
                time.sleep(0.05)
            assert via_netlink == via_proc
            assert via_netlink.get(10, 0) >= 1  # our listener
            assert via_netlink.get(1, 0) >= 2  # both ends of our connection
            fields = netstat.SPEC.create(Context()).collect(1.0)[0].fields
            assert int(fields["tcp_listen"]) >= 1
            assert int(fields["tcp_established"]) >= 2


def test_netstat_falls_back_to_proc_net_when_netlink_fails(tmp_path: Path) -> None:
    net_dir = tmp_path / "net"
    net_dir.mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue\n"
    (net_dir / "tcp").write_text(header + "   0: 0100007F:1F90 00000000:0000 0A 0:0\n")
    (net_dir / "tcp6").write_text(header + "   0: 0:1 0:0 01 0:0\n   1: 0:1 0:0 0C 0:0\n")
    (net_dir / "udp").write_text(header)
    (net_dir / "udp6").write_text(header)
    calls = []

    def refused() -> dict[int, int]:
        calls.append(1)
        raise PermissionError(1, "Operation not permitted")

    c = netstat.NetstatCollector(
        Context(proc_root=str(tmp_path)), netstat.NetstatOptions(), tcp_states=refused
    )
    for _ in range(2):
        f = c.collect(1.0)[0].fields
        assert (f["tcp_listen"], f["tcp_established"], f["tcp_none"]) == (1, 1, 1)
    assert calls == [1]  # not asked again once it failed


def test_netstat_on_a_fixture_root_never_asks_the_kernel(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    c = netstat.SPEC.create(Context(proc_root=str(tmp_path)))
    assert c.collect(1.0)[0].fields["tcp_listen"] == 0


def test_zombie_is_counted_by_processes(procs: list[subprocess.Popen[bytes]]) -> None:
    zombie = subprocess.Popen(["true"])
    procs.append(zombie)
    deadline = time.monotonic() + 10
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert int(processes.SPEC.create(Context()).collect(1.0)[0].fields["zombies"]) >= 1


def test_procstat_reports_the_exact_resident_size_from_statm(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from fleetmon_agent.collectors import procstat

    fake_proc(tmp_path, {5: stat_line(5, "big"), 6: stat_line(6, "no statm")})
    (tmp_path / "5" / "statm").write_text("5000 300 20 1 0 200 0\n")
    mem = SimpleNamespace(virtual_memory=lambda: SimpleNamespace(total=4096 * 10000))
    ctx = Context(psutil=mem, proc_root=str(tmp_path))
    points = {
        int(p.tags["pid"]): p.fields
        for p in procstat.create(ctx, procstat.ProcstatOptions(top_n=2)).collect(9.0)
    }
    page = os.sysconf("SC_PAGE_SIZE")
    assert points[5]["memory_rss"] == 300 * page  # statm, not stat's 7 pages
    assert points[6]["memory_rss"] == 7 * page  # no statm (process gone): stat's figure
