"""The agent's clock against the server's: measured from every answer, applied at send time.

Timestamps stay in the spool as the agent's clock made them; the offset is added when a
batch is encoded, so a batch spooled before the offset was known is corrected when it is
sent, and never twice.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping

TIME_HEADER = "X-Fleetmon-Time"  # unix seconds (float) when the server answered
# An offset within these bounds is measurement noise, not skew: the Date header has a
# resolution of one second, X-Fleetmon-Time only the request's round trip.
PRECISE_TOLERANCE_S = 0.5
DATE_TOLERANCE_S = 1.5


def server_time(headers: Mapping[str, str]) -> tuple[float, bool] | None:
    """(server's unix time, precise) from an answer's headers, or None if it has neither."""
    value = headers.get(TIME_HEADER)
    if value:
        try:
            t = float(value)
        except ValueError:
            t = float("nan")
        if t == t and abs(t) < 1e11:  # finite and plausible
            return t, True
    date = headers.get("Date")
    if date:
        try:
            when = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return None
        # Date is truncated to the second: the middle of that second is the best guess.
        return when.timestamp() + 0.5, False
    return None


class ClockOffset:
    """Server clock minus agent clock: the last measurement and the correction applied."""

    def __init__(self) -> None:
        self.measured: float | None = None
        self.applied = 0.0

    def learn(self, server: float, agent_mid: float, precise: bool) -> bool:
        """Take one measurement (agent_mid: the agent's clock mid-request); True if the
        applied correction changed."""
        offset = server - agent_mid
        self.measured = offset
        tolerance = PRECISE_TOLERANCE_S if precise else DATE_TOLERANCE_S
        if abs(offset - self.applied) <= tolerance:
            return False  # noise around the correction in force: keep it steady
        self.applied = offset if abs(offset) > tolerance else 0.0
        return True
