"""Rule preview: try a rule against current data before saving it ("would fire on 3 hosts")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select

from fleetmon_api import preview
from fleetmon_api.deps import DbSession, State, ViewerUser
from fleetmon_api.losses import stored_drops
from fleetmon_api.routers.alerts.common import make_router
from fleetmon_api.routers.alerts.rules import RuleIn
from fleetmon_db.alerting import HOST_RECORD_KINDS, Comparison
from fleetmon_db.models import Host

router = make_router()

MAX_LISTED = 200


class PreviewSeries(BaseModel):
    """One series of a host with its aggregate over the window."""

    tags: dict[str, str]
    value: float
    matches: bool


class PreviewHost(BaseModel):
    """One host the rule sees now."""

    host: str
    matches: bool = Field(description="the condition holds on this host now")
    value: float | None = Field(
        description="the deciding value: the worst series' aggregate, or seconds since the "
        "last heartbeat for host_down"
    )
    series: list[PreviewSeries]


class PreviewOut(BaseModel):
    """What the rule sees now; the worker would make these hosts pending (firing after for_s)."""

    evaluated_at: datetime
    hosts_in_scope: int | None = Field(description="null when the rule covers every host")
    hosts_with_data: int
    matching: int = Field(description="hosts on which the condition holds now")
    would_fire_now: int = Field(
        description="matching hosts, if for_s is 0; otherwise 0 (they would be pending)"
    )
    hosts: list[PreviewHost] = Field(
        description=f"matching hosts first, then the others by value; at most {MAX_LISTED}"
    )


@router.post("/rules/preview", response_model=PreviewOut)
def preview_rule(body: RuleIn, state: State, db: DbSession, _user: ViewerUser) -> PreviewOut:
    """Evaluate a rule as written against current data (nothing is saved or notified)."""
    spec = preview.RuleSpec(
        kind=body.kind,
        metric=body.metric,
        tags=body.tags,
        aggregate=body.aggregate,
        window_s=body.window_s,
        comparison=body.comparison,
        threshold=body.threshold,
        scope_hosts=body.scope.hosts,
        scope_labels=body.scope.labels,
    )
    now = state.clock()

    record = body.kind in HOST_RECORD_KINDS
    drops = stored_drops(db) if record else {}
    hosts = []
    for row in db.scalars(select(Host)):
        last_seen = row.last_seen
        seen = state.presence.get(row.id)  # contacts not yet flushed count too
        if seen is not None and (last_seen is None or seen.last_seen > last_seen):
            last_seen = seen.last_seen
        info = preview.HostInfo(row.name, row.labels or {}, last_seen)
        if record:
            # Losses and clock not yet flushed count too, as the hosts API shows them.
            clock = state.losses.clock(row)
            info = preview.HostInfo(
                row.name,
                row.labels or {},
                last_seen,
                state.losses.drops(row.id, drops.get(row.id, [])),
                clock.offset_s if clock else None,
                clock.measured_at if clock else None,
            )
        hosts.append(info)
    scope, results = preview.preview(spec, hosts, state.store, now)
    low = Comparison(body.comparison).low_is_worse
    ordered = sorted(
        results.values(),
        key=lambda r: (
            not r.matches,
            0.0 if r.value is None else (r.value if low else -r.value),
            r.host,
        ),
    )
    matching = sum(1 for r in ordered if r.matches)
    return PreviewOut(
        evaluated_at=now,
        hosts_in_scope=None if scope is None else len(scope),
        hosts_with_data=len(results),
        matching=matching,
        would_fire_now=matching if body.for_s == 0 else 0,
        hosts=[
            PreviewHost(
                host=r.host,
                matches=r.matches,
                value=r.value,
                series=[PreviewSeries(**s) for s in r.series],
            )
            for r in ordered[:MAX_LISTED]
        ],
    )
