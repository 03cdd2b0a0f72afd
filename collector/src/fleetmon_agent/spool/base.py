"""The spool interface: add / take batch / ack / reject (after Telegraf's models/buffer.go)."""

from __future__ import annotations

import abc
import os
from typing import Any

from fleetmon_agent.drops import DropLedger

WirePoint = dict[str, Any]
_SCALARS = (bool, int, float, str)


def valid_points(points: list[Any]) -> str | None:
    """What makes `points` unfit to be sent as wire points (the shape only), or None.

    Values (finite numbers, name rules, time window) are the server's to judge; this only
    guarantees that what leaves the spool is a list of points the encoder can send.
    """
    for i, p in enumerate(points):
        if not isinstance(p, dict):
            return f"points[{i}] is not an object"
        if not isinstance(p.get("measurement"), str):
            return f"points[{i}].measurement is not a string"
        t = p.get("time")
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            return f"points[{i}].time is not a number"
        tags, fields = p.get("tags", {}), p.get("fields")
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            return f"points[{i}].tags is not an object of strings"
        if not isinstance(fields, dict) or not all(
            isinstance(v, _SCALARS) for v in fields.values()
        ):
            return f"points[{i}].fields is not an object of numbers, booleans and strings"
        if set(p) - {"measurement", "time", "tags", "fields"}:
            return f"points[{i}] has unknown keys"
    return None


class SpoolError(RuntimeError):
    """The spool cannot work (e.g. its directory is not writable)."""


def new_batch_id() -> str:
    """A random (version 4) UUID as text, without importing uuid (it pulls in platform)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Batch:
    """Points handed to the sender under one batch id; `keys` identify the spool entries."""

    __slots__ = ("batch_id", "keys", "points")

    def __init__(
        self, batch_id: str, points: list[WirePoint], keys: list[str] | None = None
    ) -> None:
        self.batch_id = batch_id
        self.points = points
        self.keys = keys if keys is not None else []

    def __repr__(self) -> str:
        return f"Batch({self.batch_id!r}, <{len(self.points)} points>, {self.keys!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Batch):
            return NotImplemented
        return (self.batch_id, self.points, self.keys) == (other.batch_id, other.points, other.keys)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


class Spool(abc.ABC):
    """Durable (or not) store of unsent batches.

    Rules every implementation keeps, checked by one shared test suite:
    - `take` returns the oldest entries (or the newest with `newest=True`) merged into one
      batch of at most `max_points` points (a single larger entry is returned alone);
    - an entry that was taken once keeps its batch id and contents for ever: it is never
      merged again, so a retry can never deliver the same points under a second id;
    - `ack` forgets a batch, `reject` sets it aside (quarantine) for a human;
    - bounds (bytes, age) drop the oldest entries first and count every dropped point.
    """

    ledger: DropLedger  # every dropped point, by reason (see drops.py)

    @abc.abstractmethod
    def add(self, points: list[WirePoint], batch_id: str | None = None) -> str:
        """Store a batch; return its batch id."""

    @abc.abstractmethod
    def take(self, max_points: int, newest: bool = False) -> Batch | None:
        """The next batch to send, or None when the spool is empty."""

    @abc.abstractmethod
    def ack(self, batch: Batch) -> None:
        """The server accepted the batch: forget it."""

    @abc.abstractmethod
    def reject(self, batch: Batch, reason: str) -> None:
        """The server refused the batch for good: quarantine it with the reason."""

    @abc.abstractmethod
    def settle(
        self,
        batch: Batch,
        refused: list[tuple[list[WirePoint], str]],
        unresolved: list[list[WirePoint]] | None = None,
    ) -> None:
        """Part of the batch was delivered: set the `refused` parts aside (with their
        reasons, counted), spool the `unresolved` parts again as batches of their own
        (taken alone, never merged: they were refused, so never stored), forget the batch."""

    @abc.abstractmethod
    def stats(self) -> tuple[int, int, int]:
        """(entries, bytes, dropped points since start)."""

    @property
    def dropped_points(self) -> int:
        """Points dropped so far, whatever the reason."""
        return self.ledger.total

    def close(self) -> None:
        """Release resources (nothing to do by default)."""
        return None
