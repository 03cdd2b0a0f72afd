"""Names of measurements, tag keys and fields, and metric references `measurement.field`.

One grammar (Telegraf style) for what ingest accepts, what queries name and what alert
rules watch.
"""

from __future__ import annotations

import re

# A measurement, tag key or field key: a letter or `_`, then letters, digits and _ . - : /
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-:/]*")
# `measurement.field`: the first dot ends the measurement; the field may contain dots.
METRIC_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_\-:/]*)\.([A-Za-z_][A-Za-z0-9_.\-:/]*)")


def split_metric(metric: str) -> tuple[str, str]:
    """'cpu.usage_idle' -> ('cpu', 'usage_idle'); ValueError naming the metric otherwise."""
    m = METRIC_RE.fullmatch(metric)
    if m is None:
        raise ValueError(
            f"metric {metric[:80]!r} must be 'measurement.field', e.g. 'cpu.usage_user'"
        )
    return m.group(1), m.group(2)
