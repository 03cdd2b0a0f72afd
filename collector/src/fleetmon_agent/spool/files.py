"""The durable spool: one JSON file per batch, written to a temp file, fsync'd, renamed.

File names carry everything the index needs, so start-up never reads the batches:
``<created_ns>-<kind>-<points>-<batch_id>.json`` where kind is ``n`` (never taken),
``s`` (taken once: identity frozen) or ``m`` (merged from the ``sources`` it lists).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import threading
import time
from typing import Any, Callable

from fleetmon_agent.drops import (
    COUNTERS_FILE,
    REJECTED,
    SPOOL_EXPIRED,
    SPOOL_FULL,
    UNREADABLE,
    DropLedger,
)
from fleetmon_agent.spool.base import (
    Batch,
    Spool,
    SpoolError,
    WirePoint,
    new_batch_id,
    valid_points,
)

log = logging.getLogger(__name__)

_NAME = re.compile(r"(\d{20})-([nsm])-(\d+)-([0-9a-f-]{36})\.json")
TMP_PREFIX = ".tmp-"
QUARANTINE = "quarantine"


class _Entry:
    __slots__ = ("batch_id", "created_ns", "kind", "name", "npoints", "size")

    def __init__(
        self, name: str, created_ns: int, kind: str, npoints: int, batch_id: str, size: int
    ) -> None:
        self.name, self.created_ns, self.kind = name, created_ns, kind
        self.npoints, self.batch_id, self.size = npoints, batch_id, size


def _name(created_ns: int, kind: str, npoints: int, batch_id: str) -> str:
    return f"{created_ns:020d}-{kind}-{npoints}-{batch_id}.json"


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _no_fault(stage: str) -> None:
    return None


class FileSpool(Spool):
    """Batches as files in a directory; survives restarts and kill -9."""

    def __init__(
        self,
        directory: str,
        max_bytes: int = 100 * 10**6,
        max_age: float = 86400.0,
        clock: Callable[[], float] = time.time,
        fault: Callable[[str], None] = _no_fault,
    ) -> None:
        self.dir = os.path.abspath(directory)
        self.qdir = os.path.join(self.dir, QUARANTINE)
        self.max_bytes, self.max_age, self.clock = max_bytes, max_age, clock
        # Test hook: called at each crash-sensitive step so tests can "crash" right there.
        self._fault = fault
        self._lock = threading.RLock()
        self._entries: list[_Entry] = []
        self._bytes = 0
        self._quarantined = 0
        self._last_ns = 0
        self._inflight: set[str] = set()
        self._open()

    # --- start-up ---------------------------------------------------------------------

    def _open(self) -> None:
        try:
            os.makedirs(self.qdir, exist_ok=True)
            probe = os.path.join(self.dir, f"{TMP_PREFIX}probe-{os.getpid()}")
            with open(probe, "w") as f:
                f.write("ok")
            os.unlink(probe)
        except OSError as exc:
            raise SpoolError(
                f"spool.dir {self.dir!r} is not writable ({exc.strerror}); create it for the "
                "agent's user or point spool.dir (FLEETMON_SPOOL_DIR) elsewhere"
            ) from None
        # Counters live beside the batches so they outlive restarts (cumulative on the wire).
        self.ledger = DropLedger(os.path.join(self.dir, COUNTERS_FILE))
        names = sorted(os.listdir(self.dir))
        found: dict[str, _Entry] = {}
        for name in names:
            path = os.path.join(self.dir, name)
            if name.startswith(TMP_PREFIX):  # a write torn by a crash: never renamed, never used
                with contextlib.suppress(OSError):  # e.g. a directory: harmless, left alone
                    os.unlink(path)
                continue
            if name in (QUARANTINE, COUNTERS_FILE, COUNTERS_FILE + ".tmp"):
                continue
            m = _NAME.fullmatch(name)
            if not m:
                self._move_to_quarantine(name, "unexpected file name")
                self.ledger.quarantined()
                continue
            try:
                size = os.lstat(path).st_size
            except OSError:  # gone meanwhile (or unreachable): nothing to deliver
                continue
            found[name] = _Entry(
                name, int(m.group(1)), m.group(2), int(m.group(3)), m.group(4), size
            )
        # A crash between writing a merged file and unlinking its sources leaves both:
        # the merged file wins, its sources go.
        for entry in [e for e in found.values() if e.kind == "m"]:
            doc = self._read(entry)
            if doc is None:  # quarantined and counted by _read
                found.pop(entry.name, None)
                continue
            sources = doc.get("sources")
            for src in sources if isinstance(sources, list) else []:
                if isinstance(src, str) and src in found and found[src].kind != "m":
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.dir, src))
                    del found[src]
        self._entries = sorted(found.values(), key=lambda e: e.name)
        self._bytes = sum(e.size for e in self._entries)
        if self._entries:
            self._last_ns = max(e.created_ns for e in self._entries)

    # --- helpers -------------------------------------------------------------------------

    def _next_ns(self) -> int:
        # Strictly increasing, so names sort in arrival order even within one clock tick.
        ns = max(int(self.clock() * 1e9), self._last_ns + 1)
        self._last_ns = ns
        return ns

    def _write(self, name: str, doc: dict[str, Any]) -> int:
        data = json.dumps(doc, separators=(",", ":")).encode()
        tmp = os.path.join(self.dir, f"{TMP_PREFIX}{name}")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._fault("write:before-rename")
        os.rename(tmp, os.path.join(self.dir, name))
        _fsync_dir(self.dir)
        return len(data)

    def _load(self, name: str) -> dict[str, Any]:
        """The file's document with a well-formed points list; raises on anything else."""
        path = os.path.join(self.dir, name)
        # Only a regular file is opened: a FIFO would block for ever, a directory raises.
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise ValueError("not a regular file")
        with open(path, "rb") as f:
            doc = json.loads(f.read())
        if not isinstance(doc, dict) or not isinstance(doc.get("points"), list):
            raise ValueError("no points list")
        problem = valid_points(doc["points"])
        if problem:
            raise ValueError(problem)
        return doc

    def _read(self, entry: _Entry) -> dict[str, Any] | None:
        """The entry's document, or None after moving an unreadable file to quarantine."""
        try:
            return self._load(entry.name)
        # Any content at all may sit in the spool dir (deep nesting raises RecursionError, a
        # directory IsADirectoryError...): whatever it raises, it must never stop delivery.
        except Exception as exc:  # noqa: BLE001
            why = f"{type(exc).__name__}: {exc}"[:300]
            log.error(
                "spool file %s is unreadable (%s): moved to quarantine, %d points dropped",
                entry.name,
                why,
                entry.npoints,
            )
            self._move_to_quarantine(entry.name, f"unreadable: {why}")
            self.ledger.add(UNREADABLE, entry.npoints, files=1)
            return None

    def _move_to_quarantine(self, name: str, reason: str, doc: bytes | None = None) -> None:
        """Move a file (or write `doc` under its name) to quarantine, the reason beside it."""
        target = os.path.join(self.qdir, name)
        if os.path.lexists(target):  # never overwrite what an operator may still look at
            target = f"{target}.{time.time_ns()}"
        try:
            if doc is None:
                os.replace(os.path.join(self.dir, name), target)
            else:
                with open(target, "wb") as f:
                    f.write(doc)
                    f.flush()
                    os.fsync(f.fileno())
            with open(target + ".reason", "w") as f:
                f.write(reason + "\n")
        except OSError as exc:
            log.error("cannot quarantine spool file %s: %s", name, exc)
        self._quarantined += 1
        self._forget(name)

    def _forget(self, name: str) -> None:
        for i, e in enumerate(self._entries):
            if e.name == name:
                self._bytes -= e.size
                del self._entries[i]
                break
        self._inflight.discard(name)

    def _enforce(self) -> None:
        now_ns = int(self.clock() * 1e9)
        max_age_ns = int(self.max_age * 1e9)
        for e in list(self._entries[:-1]):  # the newest entry always stays
            if self._bytes <= self.max_bytes and now_ns - e.created_ns <= max_age_ns:
                break
            if e.name in self._inflight:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.dir, e.name))
            reason = SPOOL_FULL if self._bytes > self.max_bytes else SPOOL_EXPIRED
            self.ledger.add(reason, e.npoints)
            log.warning(
                "spool over its bounds (%s): dropped %d points (batch %s)",
                reason,
                e.npoints,
                e.batch_id,
            )
            self._forget(e.name)

    # --- the interface ----------------------------------------------------------------

    def add(self, points: list[WirePoint], batch_id: str | None = None) -> str:
        """Store a batch durably; return its batch id."""
        bid = batch_id or new_batch_id()
        with self._lock:
            ns = self._next_ns()
            name = _name(ns, "n", len(points), bid)
            size = self._write(name, {"batch_id": bid, "points": points})
            self._entries.append(_Entry(name, ns, "n", len(points), bid, size))
            self._bytes += size
            self._enforce()
        return bid

    def take(self, max_points: int, newest: bool = False) -> Batch | None:
        """The next batch: a frozen entry alone, or fresh neighbours merged into one."""
        with self._lock:
            self._enforce()
            while self._entries:
                order = self._entries[::-1] if newest else self._entries
                first = order[0]
                group = [first]
                if first.kind == "n":
                    count = first.npoints
                    for e in order[1:]:
                        if e.kind != "n" or count + e.npoints > max_points:
                            break
                        group.append(e)
                        count += e.npoints
                batch = self._seal(first) if len(group) == 1 else self._merge_or_seal(group)
                if batch is not None:
                    self._inflight.add(batch.keys[0])
                    return batch
            return None

    def _seal(self, entry: _Entry) -> Batch | None:
        doc = self._read(entry)
        if doc is None:
            return None
        if entry.kind == "n":
            # Frozen from now on: it may reach the server, so it must never be re-merged.
            sealed = _name(entry.created_ns, "s", entry.npoints, entry.batch_id)
            self._fault("seal:before-rename")
            try:
                os.rename(os.path.join(self.dir, entry.name), os.path.join(self.dir, sealed))
            except FileNotFoundError:  # deleted behind our back: nothing left to send
                log.error("spool file %s vanished before it was sent", entry.name)
                self.ledger.add(UNREADABLE, entry.npoints)
                self._forget(entry.name)
                return None
            _fsync_dir(self.dir)
            entry.name, entry.kind = sealed, "s"
        # The id in the name is the one checked by the name's pattern: the wire accepts it.
        return Batch(entry.batch_id, doc["points"], [entry.name])

    def _merge_or_seal(self, group: list[_Entry]) -> Batch | None:
        try:
            return self._merge(group)
        except OSError as exc:
            # Disk full, say: a merge needs space, sealing one entry does not.
            log.warning("cannot merge spooled batches (%s); sending them one by one", exc)
            return self._seal(group[0])

    def _merge(self, group: list[_Entry]) -> Batch | None:
        group = sorted(group, key=lambda e: e.name)
        points: list[WirePoint] = []
        sources: list[str] = []
        for e in group:
            doc = self._read(e)
            if doc is not None:
                points.extend(doc["points"])
                sources.append(e.name)
        if not sources:
            return None
        bid = new_batch_id()
        name = _name(group[0].created_ns, "m", len(points), bid)
        size = self._write(name, {"batch_id": bid, "points": points, "sources": sources})
        self._fault("merge:written")
        for i, src in enumerate(sources):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.dir, src))
            self._forget(src)
            if i == 0:
                self._fault("merge:partial-unlink")
        _fsync_dir(self.dir)
        entry = _Entry(name, group[0].created_ns, "m", len(points), bid, size)
        self._entries.append(entry)
        self._entries.sort(key=lambda e: e.name)
        self._bytes += size
        return Batch(bid, points, [name])

    def ack(self, batch: Batch) -> None:
        """Delete the batch's file."""
        with self._lock:
            for name in batch.keys:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.dir, name))
                self._forget(name)

    def reject(self, batch: Batch, reason: str) -> None:
        """Move the batch's file to the quarantine dir, with the reason beside it."""
        with self._lock:
            for name in batch.keys:
                self._move_to_quarantine(name, reason)
            self.ledger.add(REJECTED, len(batch.points), files=len(batch.keys))

    def settle(
        self,
        batch: Batch,
        refused: list[tuple[list[WirePoint], str]],
        unresolved: list[list[WirePoint]] | None = None,
    ) -> None:
        """Part of the batch was delivered: quarantine the `refused` parts (one file each,
        the reason beside it), spool the `unresolved` ones again (sealed), forget the batch."""
        with self._lock:
            for points in unresolved or []:
                bid = new_batch_id()
                ns = self._next_ns()
                name = _name(ns, "s", len(points), bid)
                size = self._write(name, {"batch_id": bid, "points": points})
                self._entries.append(_Entry(name, ns, "s", len(points), bid, size))
                self._bytes += size
            for points, reason in refused:
                # A spool file of its own (a new id): moved back, it is sent like any other.
                bid = new_batch_id()
                name = _name(self._next_ns(), "n", len(points), bid)
                doc = json.dumps({"batch_id": bid, "points": points}).encode()
                self._move_to_quarantine(name, reason, doc)
                self.ledger.add(REJECTED, len(points), files=1)
        self.ack(batch)

    def stats(self) -> tuple[int, int, int]:
        """(entries, bytes, points dropped so far: cumulative, kept across restarts)."""
        with self._lock:
            return len(self._entries), self._bytes, self.ledger.total

    @property
    def dropped_points(self) -> int:
        """Points dropped so far (cumulative, kept across restarts)."""
        return self.ledger.total

    @property
    def quarantined(self) -> int:
        """Files moved to quarantine since start."""
        return self._quarantined


def spool_status(directory: str, now: float | None = None) -> dict[str, Any]:
    """Read-only summary of a spool dir (safe while an agent is writing to it)."""
    now = time.time() if now is None else now
    files = points = size = 0
    oldest: int | None = None
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        names = []
    for name in names:
        m = _NAME.fullmatch(name)
        if not m:
            continue
        try:
            size += os.path.getsize(os.path.join(directory, name))
        except OSError:  # acked while we looked
            continue
        files += 1
        points += int(m.group(3))
        ns = int(m.group(1))
        oldest = ns if oldest is None else min(oldest, ns)
    try:
        quarantined = len(
            [n for n in os.listdir(os.path.join(directory, QUARANTINE)) if n.endswith(".json")]
        )
    except FileNotFoundError:
        quarantined = 0
    # Read only: a ledger writes its file only when it counts something.
    dropped, quarantined_total = DropLedger(os.path.join(directory, COUNTERS_FILE)).snapshot()
    return {
        "dir": os.path.abspath(directory),
        "files": files,
        "points": points,
        "bytes": size,
        "oldest_age_seconds": round(now - oldest / 1e9, 1) if oldest is not None else None,
        "quarantined_files": quarantined,
        "dropped_points": dropped,
        "quarantined_files_total": quarantined_total,
    }
