"""Safe templates for rule labels and annotations: `$host`, `${value}`, `$label_role`.

string.Template only substitutes names; unlike str.format it cannot reach attributes
(`{value.__class__}`), so an admin-written template cannot read worker internals."""

from __future__ import annotations

from collections.abc import Mapping
from string import Template
from typing import Any


def context(
    *,
    rule: str,
    host: str,
    severity: str,
    value: float | None,
    threshold: float,
    comparison: str,
    metric: str,
    host_labels: Mapping[str, Any],
) -> dict[str, str]:
    """The variables a template may use."""
    ctx = {
        "rule": rule,
        "host": host,
        "severity": severity,
        "value": "n/a" if value is None else f"{value:.2f}",
        "threshold": f"{threshold:g}",
        "comparison": comparison,
        "metric": metric,
    }
    for key, val in host_labels.items():
        if key.isidentifier():
            ctx[f"label_{key}"] = str(val)
    return ctx


def render(templates: Mapping[str, Any], ctx: Mapping[str, str]) -> dict[str, str]:
    """Render each template; unknown `$names` are left as written, never an error."""
    return {k: Template(str(v)).safe_substitute(ctx) for k, v in templates.items()}
