"""One evaluation cycle: observe every enabled rule, step its alerts, persist state, history
and outbox rows, one transaction per rule that changed something."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from fleetmon_alerts import outbox, payload, templating
from fleetmon_alerts.clock import Clock
from fleetmon_alerts.observe import Observation, QueryCache, ScopeCache, observe, prefetch
from fleetmon_alerts.silences import active_silences, matching_silence
from fleetmon_alerts.state import Snapshot, step
from fleetmon_db.alerting import AlertStatus, RuleKind
from fleetmon_db.models import AlertChannel, AlertEvent, AlertRule, AlertState, Host, Silence
from fleetmon_db.timeseries import TimeSeriesStore

log = logging.getLogger(__name__)


def fingerprint(rule_id: int, host: str) -> str:
    """Identity of one alert: one rule on one host (series of a host are grouped)."""
    return hashlib.sha256(f"{rule_id}\0{host}".encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    """One transition the cycle made (what `fleetmon-alerts once` prints)."""

    rule: str
    host: str
    from_status: str
    to_status: str
    value: float | None
    notifications: int = 0
    silenced: bool = False
    repeat: bool = False

    def line(self) -> str:
        """Human-readable one-liner."""
        value = "n/a" if self.value is None else f"{self.value:.2f}"
        extra = " (silenced)" if self.silenced else ""
        extra += " (repeat)" if self.repeat else ""
        return (
            f"{self.rule} @ {self.host}: {self.from_status} -> {self.to_status} "
            f"value={value} notifications={self.notifications}{extra}"
        )


@dataclass
class _Cycle:
    session: Session
    now: datetime
    channels: list[AlertChannel]
    silences: list[Silence]
    host_labels: dict[str, dict[str, Any]]
    touched: list[dict[str, Any]] = field(default_factory=list)


class Evaluator:
    """Evaluates every enabled rule against the store and records what changed."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: TimeSeriesStore,
        clock: Clock,
        public_url: str = "http://127.0.0.1:8000",
        query_workers: int | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        # Store questions in flight at once at the start of a cycle (None: by store kind).
        self.query_workers = query_workers
        self.clock = clock
        self.public_url = public_url
        self.last_errors: dict[str, str] = {}

    def run_once(self) -> list[Decision]:
        """Evaluate all rules once; return the transitions made."""
        now = self.clock.now()
        decisions: list[Decision] = []
        self.last_errors = {}
        with self.sessions() as session:
            rules = list(
                session.scalars(
                    select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id)
                )
            )
            # Drops in the same query round: data_loss rules read them for every host.
            hosts = list(session.scalars(select(Host).options(selectinload(Host.drops))))
            cycle = _Cycle(
                session,
                now,
                list(session.scalars(select(AlertChannel).order_by(AlertChannel.id))),
                active_silences(session, now),
                {h.name: dict(h.labels or {}) for h in hosts},
            )
            cache: QueryCache = {}
            scopes: ScopeCache = {}
            states = self._load_states(session)
            prefetch(rules, hosts, self.store, now, cache, scopes, self.query_workers)
            for rule in rules:
                try:
                    rows = states.get(rule.id, [])
                    keep = {r.host for r in rows}
                    observations = observe(rule, hosts, self.store, now, cache, scopes, keep)
                except Exception as exc:  # noqa: BLE001
                    # One broken rule or a store hiccup must not stop the others.
                    self.last_errors[rule.name] = f"{type(exc).__name__}: {exc}"
                    log.warning("rule %r not evaluated: %s", rule.name, exc)
                    continue
                decisions += self._apply(cycle, rule, observations, rows)
                if cycle.touched:
                    session.execute(update(AlertState), cycle.touched)
                    cycle.touched = []
                session.commit()
            decisions += self._repeats(cycle, rules)
            session.commit()
        return decisions

    def _load_states(self, session: Session) -> dict[int, list[Row[Any]]]:
        """Every alert state, as plain rows grouped by rule: one query per cycle, no ORM
        objects for the thousands of alerts that do not change."""
        t = AlertState.__table__
        stmt = select(
            t.c.id,
            t.c.rule_id,
            t.c.fingerprint,
            t.c.host,
            t.c.status,
            t.c.value,
            t.c.pending_since,
            t.c.firing_since,
            t.c.resolved_at,
            t.c.keep_firing_until,
        )
        out: dict[int, list[Row[Any]]] = {}
        for row in session.execute(stmt):
            out.setdefault(row.rule_id, []).append(row)
        return out

    def _apply(
        self,
        cycle: _Cycle,
        rule: AlertRule,
        observations: Mapping[str, Observation],
        rows: Sequence[Row[Any]],
    ) -> list[Decision]:
        by_host = {r.host: r for r in rows}
        # (state id or None, fingerprint, observation) of alerts whose state must be written.
        changed: list[tuple[int | None, str, Observation]] = []
        seen: set[str] = set()

        def check(row: Row[Any] | None, fp: str, obs: Observation) -> None:
            before = _snapshot(row)
            after, transition = step(
                before, obs.active, cycle.now, rule.for_s, rule.keep_firing_for_s
            )
            if transition is None and after == before:
                # Nothing moved: write only a live alert's value, and only when it changed.
                if (
                    row is not None
                    and _live(after)
                    and obs.value is not None
                    and obs.value != row.value
                ):
                    cycle.touched.append(
                        {
                            "id": row.id,
                            "value": obs.value,
                            "annotations": self._annotations(cycle, rule, row.host, obs.value),
                        }
                    )
                return
            changed.append((None if row is None else row.id, fp, obs))

        for host, obs in observations.items():
            row = by_host.get(host)
            if row is None and not obs.active:
                continue  # the common case: a healthy host with no alert history for this rule
            fp = row.fingerprint if row is not None else fingerprint(rule.id, host)
            seen.add(fp)
            check(row, fp, obs)
        for row in rows:
            # No data any more (series gone, host out of scope): the condition no longer holds.
            if row.fingerprint not in seen and row.status in (
                AlertStatus.PENDING.value,
                AlertStatus.FIRING.value,
            ):
                if rule.kind == RuleKind.HOST_DOWN and row.host in cycle.host_labels:
                    continue  # silent beyond the lookback: still down, hold the alert
                check(row, row.fingerprint, Observation(row.host, False, None))
        if not changed:
            return []
        ids = [sid for sid, _, _ in changed if sid is not None]
        loaded: dict[int, AlertState] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for st in cycle.session.scalars(select(AlertState).where(AlertState.id.in_(chunk))):
                loaded[st.id] = st
        out: list[Decision] = []
        for sid, fp, obs in changed:
            decision = self._step(cycle, rule, None if sid is None else loaded[sid], fp, obs)
            if decision:
                out.append(decision)
        return out

    def _step(
        self,
        cycle: _Cycle,
        rule: AlertRule,
        state: AlertState | None,
        fp: str,
        obs: Observation,
    ) -> Decision | None:
        before = (
            Snapshot(
                AlertStatus(state.status),
                state.pending_since,
                state.firing_since,
                state.resolved_at,
                state.keep_firing_until,
            )
            if state
            else Snapshot()
        )
        after, transition = step(before, obs.active, cycle.now, rule.for_s, rule.keep_firing_for_s)
        if transition is None and (state is None or (after == before and not _live(after))):
            return None  # nothing changed and nothing worth writing
        if transition is None and state is not None and after == before:
            # Still pending or firing: only the value moves. Batched into one executemany per
            # rule instead of one ORM UPDATE per alert.
            value = state.value if obs.value is None else obs.value
            cycle.touched.append(
                {
                    "id": state.id,
                    "value": value,
                    "last_eval_at": cycle.now,
                    "annotations": self._annotations(cycle, rule, state.host, value),
                }
            )
            return None
        if state is None:
            state = AlertState(rule_id=rule.id, fingerprint=fp, host=obs.host)
            cycle.session.add(state)
        state.status = after.status.value
        state.pending_since = after.pending_since
        state.firing_since = after.firing_since
        state.resolved_at = after.resolved_at
        state.keep_firing_until = after.keep_firing_until
        state.last_eval_at = cycle.now
        if obs.value is not None:
            state.value = obs.value
        if transition is None:
            return None
        if after.status in (AlertStatus.PENDING, AlertStatus.FIRING):
            ctx = self._context(cycle, rule, obs.host, state.value)
            state.labels = templating.render(rule.labels or {}, ctx)
            state.annotations = templating.render(rule.annotations or {}, ctx)
        details: dict[str, Any] = dict(obs.details)
        channels: list[AlertChannel] = []
        silence = None
        if after.status == AlertStatus.FIRING:
            # A new episode: nothing of it is notified yet. Keeping the previous episode's
            # time would hold back a silenced firing until a repeat interval after that
            # episode's notification, instead of notifying as soon as the silence ends.
            state.last_notified_at = None
        if after.status in (AlertStatus.FIRING, AlertStatus.RESOLVED):
            silence = matching_silence(
                cycle.silences, rule.id, obs.host, self._alert_labels(cycle, rule, state)
            )
            if silence is not None:
                details["silenced_by"] = silence.id
            elif after.status == AlertStatus.FIRING:
                channels = outbox.targets(rule, cycle.channels)
            else:
                # Resolved goes only where the firing went, and only if the channel wants it.
                since = state.firing_since or cycle.now
                notified = outbox.notified_channels(cycle.session, fp, since)
                channels = [
                    c
                    for c in outbox.targets(rule, cycle.channels)
                    if c.send_resolved and c.id in notified
                ]
        event = AlertEvent(
            rule_id=rule.id,
            rule_name=rule.name,
            fingerprint=fp,
            host=obs.host,
            severity=rule.severity,
            from_status=transition.from_status.value,
            to_status=transition.to_status.value,
            value=state.value,
            at=cycle.now,
            details=details,
        )
        cycle.session.add(event)
        if channels:
            cycle.session.flush()
            procs = (
                payload.top_processes(self.store, obs.host, cycle.now)
                if after.status == AlertStatus.FIRING and rule.kind != RuleKind.HOST_DOWN
                else None
            )
            body = payload.build(
                rule=rule,
                state=state,
                status=after.status.value,
                at=cycle.now,
                public_url=self.public_url,
                processes=procs,
            )
            outbox.enqueue(cycle.session, event, channels, body, cycle.now)
            state.last_notified_at = cycle.now
        return Decision(
            rule.name,
            obs.host,
            transition.from_status.value,
            transition.to_status.value,
            state.value,
            len(channels),
            silence is not None,
        )

    def _context(
        self, cycle: _Cycle, rule: AlertRule, host: str, value: float | None
    ) -> dict[str, str]:
        return templating.context(
            rule=rule.name,
            host=host,
            severity=rule.severity,
            value=value,
            threshold=rule.threshold,
            comparison=rule.comparison,
            metric=rule.metric,
            host_labels=cycle.host_labels.get(host, {}),
        )

    def _annotations(
        self, cycle: _Cycle, rule: AlertRule, host: str, value: float | None
    ) -> dict[str, str]:
        """The annotations rendered with the value stored next to them: a live alert's
        summary and value always describe the same evaluation (the UI shows both, and a
        repeated notification sends both)."""
        return templating.render(rule.annotations or {}, self._context(cycle, rule, host, value))

    def _alert_labels(self, cycle: _Cycle, rule: AlertRule, state: AlertState) -> dict[str, Any]:
        return {
            **cycle.host_labels.get(state.host, {}),
            **(rule.labels or {}),
            **(state.labels or {}),
            "alertname": rule.name,
            "severity": rule.severity,
            "host": state.host,
        }

    def _repeats(self, cycle: _Cycle, rules: Sequence[AlertRule]) -> list[Decision]:
        """Re-notify alerts still firing after a channel's repeat interval (or a silence)."""
        enabled = [c for c in cycle.channels if c.enabled]
        if not enabled:
            return []
        min_repeat = min(c.repeat_interval_s for c in enabled)
        by_id = {r.id: r for r in rules}
        out: list[Decision] = []
        for state in outbox.repeat_candidates(cycle.session, cycle.now, min_repeat):
            rule = by_id.get(state.rule_id)
            if rule is None:
                continue
            labels = self._alert_labels(cycle, rule, state)
            if matching_silence(cycle.silences, rule.id, state.host, labels) is not None:
                continue  # checked again next cycle: notify as soon as the silence ends
            since = state.firing_since or cycle.now
            sent = outbox.notified_channels(cycle.session, state.fingerprint, since)
            channels = [
                c
                for c in outbox.targets(rule, cycle.channels)
                if c.id not in sent
                or sent[c.id] + timedelta(seconds=c.repeat_interval_s) <= cycle.now
            ]
            if not channels:
                state.last_notified_at = max(sent.values(), default=cycle.now)
                continue
            event = AlertEvent(
                rule_id=rule.id,
                rule_name=rule.name,
                fingerprint=state.fingerprint,
                host=state.host,
                severity=rule.severity,
                from_status=AlertStatus.FIRING.value,
                to_status=AlertStatus.FIRING.value,
                value=state.value,
                at=cycle.now,
                details={"repeat": bool(sent)},
            )
            cycle.session.add(event)
            cycle.session.flush()
            # The episode's first notification (its silence ended) lists what runs now.
            procs = (
                payload.top_processes(self.store, state.host, cycle.now)
                if not sent and rule.kind != RuleKind.HOST_DOWN
                else None
            )
            body = payload.build(
                rule=rule,
                state=state,
                status=AlertStatus.FIRING.value,
                at=cycle.now,
                public_url=self.public_url,
                processes=procs,
                repeat=bool(sent),
            )
            outbox.enqueue(cycle.session, event, channels, body, cycle.now)
            state.last_notified_at = cycle.now
            out.append(
                Decision(
                    rule.name,
                    state.host,
                    "firing",
                    "firing",
                    state.value,
                    len(channels),
                    repeat=bool(sent),
                )
            )
        return out


def _snapshot(row: Row[Any] | None) -> Snapshot:
    if row is None:
        return Snapshot()
    return Snapshot(
        AlertStatus(row.status),
        row.pending_since,
        row.firing_since,
        row.resolved_at,
        row.keep_firing_until,
    )


def _live(snap: Snapshot) -> bool:
    return snap.status in (AlertStatus.PENDING, AlertStatus.FIRING)
