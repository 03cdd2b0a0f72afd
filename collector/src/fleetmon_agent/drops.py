"""Why the agent drops points: the reasons (defined once) and their cumulative counters.

Every point the agent generates is either acknowledged by the server or counted here under
one reason. The counters are kept in a small JSON file next to the spool, so they survive
restarts and the server sees cumulative values (`agent.dropped`, `agent.quarantined_files`).
"""

from __future__ import annotations

import json
import logging
import os
import threading

log = logging.getLogger(__name__)

SPOOL_FULL = "spool_full"  # the spool went over spool.max_bytes: oldest batches deleted
SPOOL_EXPIRED = "spool_expired"  # older than spool.max_age: deleted unsent
UNSPOOLED = "unspooled"  # the spool could not be written and the memory buffer overflowed
REJECTED = "rejected"  # the server refused them as invalid (400/413/422): in quarantine
UNREADABLE = "unreadable"  # a spool file that cannot be read or parsed: in quarantine

REASONS = (SPOOL_FULL, SPOOL_EXPIRED, UNSPOOLED, REJECTED, UNREADABLE)
COUNTERS_FILE = "counters.json"
_MAX = 2**63 - 1  # the wire's integer range


class DropLedger:
    """Thread-safe cumulative counters by reason, persisted at `path` (None: memory only)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.dropped: dict[str, int] = {}
        self.quarantined_files = 0
        if path is not None:
            self._load(path)

    def _load(self, path: str) -> None:
        try:
            with open(path, "rb") as f:
                doc = json.loads(f.read())
            dropped = doc.get("dropped", {})
            self.dropped = {
                r: min(int(n), _MAX)
                for r, n in dropped.items()
                if r in REASONS and isinstance(n, int) and n > 0
            }
            q = doc.get("quarantined_files", 0)
            self.quarantined_files = min(q, _MAX) if isinstance(q, int) and q > 0 else 0
        except FileNotFoundError:
            return
        except (OSError, ValueError, AttributeError, RecursionError) as exc:
            # Counters are worth less than the agent running: start again from zero, say so.
            log.error("drop counters %s unreadable (%s): starting from zero", path, exc)

    def _save(self) -> None:
        if self.path is None:
            return
        doc = {"dropped": self.dropped, "quarantined_files": self.quarantined_files}
        tmp = f"{self.path}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(doc, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("cannot save drop counters to %s: %s", self.path, exc)

    def add(self, reason: str, points: int, files: int = 0) -> None:
        """Count `points` dropped for `reason` (one of REASONS) and `files` quarantined."""
        if reason not in REASONS:
            raise ValueError(f"unknown drop reason {reason!r}")
        if points <= 0 and files <= 0:
            return
        with self.lock:
            if points > 0:
                self.dropped[reason] = min(self.dropped.get(reason, 0) + points, _MAX)
            self.quarantined_files = min(self.quarantined_files + max(files, 0), _MAX)
            self._save()

    def quarantined(self, files: int = 1) -> None:
        """Count files set aside that held no points we could count."""
        with self.lock:
            self.quarantined_files = min(self.quarantined_files + files, _MAX)
            self._save()

    @property
    def total(self) -> int:
        """All points dropped so far, whatever the reason."""
        with self.lock:
            return min(sum(self.dropped.values()), _MAX)

    def snapshot(self) -> tuple[dict[str, int], int]:
        """(points by reason, quarantined files): a copy."""
        with self.lock:
            return dict(self.dropped), self.quarantined_files
