"""The spool interface: add / take batch / ack / reject (after Telegraf's models/buffer.go)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

WirePoint = dict[str, Any]


class SpoolError(RuntimeError):
    """The spool cannot work (e.g. its directory is not writable)."""


@dataclass
class Batch:
    """Points handed to the sender under one batch id; `keys` identify the spool entries."""

    batch_id: str
    points: list[WirePoint]
    keys: list[str] = field(default_factory=list)


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
    def stats(self) -> tuple[int, int, int]:
        """(entries, bytes, dropped points since start)."""

    @property
    @abc.abstractmethod
    def dropped_points(self) -> int:
        """Points dropped by the bounds since start."""

    def close(self) -> None:
        """Release resources (nothing to do by default)."""
        return None
