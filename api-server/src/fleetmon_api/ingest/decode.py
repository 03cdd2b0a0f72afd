"""Request bodies to store points: the agent's JSON batches and InfluxDB line protocol.

Agent batches take one of three paths, and each reads the body once:

- fast: `wire.fast_decode` (msgspec, types and ranges checked in C) and
  `FastCompiler.compile` (point shapes checked once and cached) build the PointBatch;
- deferred: the structs decoded, but the compiler does not vouch for them (a new shape it
  refuses, a time outside the window): the Validator checks the same structs and names the
  first offending point;
- strict: msgspec refused the body: the reference `wire.BatchIn` reads it, names the error
  (422), or accepts what only it accepts (an integer beyond 64 bits, read as a float), and
  the Validator checks the points.

The envelope (batch id, agent version, point count) is read before any point is checked,
so a duplicate batch costs no point work and an oversized one is refused first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec
from pydantic import ValidationError

from fleetmon_api.errors import ApiError
from fleetmon_api.ingest import lineproto
from fleetmon_api.ingest.body import INLINE_BYTES, Body
from fleetmon_api.ingest.fastpath import FastCompiler
from fleetmon_api.ingest.reasons import Refusal
from fleetmon_api.ingest.validate import BadPoint, RawPoint, Validator
from fleetmon_api.ingest.wire import AgentIn, BatchIn, WireAgent, WireBatch, fast_decode
from fleetmon_db.timeseries import NS, Point, PointBatch

_TYPE_MISMATCH = frozenset({"bool_type", "int_type", "float_type", "string_type"})


def _first_error(exc: ValidationError) -> str:
    """The most useful error, with a path like `points[3].fields.x` (union members dropped)."""
    errors = exc.errors(include_url=False)
    err = next((e for e in errors if e["type"] not in _TYPE_MISMATCH), errors[0])
    loc = list(err["loc"])
    if "fields" in loc:
        loc = loc[: loc.index("fields") + 2]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    msg = err["msg"]
    if err["type"] in _TYPE_MISMATCH and "fields" in loc:
        msg = "Input should be a number, a boolean or a string"
    return f"{path or 'body'}: {msg}"


@dataclass(frozen=True, slots=True)
class AgentBatch:
    """A decoded agent batch: its envelope now, its points checked on demand."""

    batch_id: str
    agent: WireAgent | AgentIn | None  # the agent's own state, when it sent it
    size: int  # points in the batch
    _wire: WireBatch | None
    _strict: BatchIn | None

    @property
    def agent_version(self) -> str | None:
        """The agent's version, when it said."""
        return self.agent.version if self.agent is not None else None

    @property
    def fast(self) -> bool:
        """Whether msgspec decoded it (the path every well-formed agent batch takes)."""
        return self._wire is not None

    def points(self, host: str, now_ns: int, compiler: FastCompiler) -> PointBatch:
        """The points for `host`, every one checked; BadPoint (422) names the first bad one.

        The BadPoint's `points` is how many points of the batch it is about: all those
        outside the time window for a time refusal, else the one it names (a sender that
        splits the batch gets the others stored, so only these count as refused).
        """
        if self._wire is not None:
            compiled = compiler.compile(host, self._wire.points, now_ns)
            if compiled is not None:
                return compiled
        raw: Sequence[RawPoint] = self._wire.points if self._wire is not None else []
        if self._strict is not None:
            raw = self._strict.points
        validator = compiler.validator
        try:
            return PointBatch.of(validator.points(host, raw, now_ns))
        except ApiError as exc:
            exc.points = refused_points(exc, validator, (p.time * NS for p in raw), now_ns)
            raise


class _AnyObject(msgspec.Struct, gc=False):
    """Any JSON object, its contents skipped unread."""


class _Outline(msgspec.Struct, gc=False):
    """A batch's `points` array, each point an object whose contents are not read."""

    points: list[_AnyObject] = []


_OUTLINE = msgspec.json.Decoder(_Outline)
# A point is at most three objects (itself, tags, fields), and the envelope two; the rest of
# the margin is for `{` inside strings (a process's command line).
_OBJECTS_PER_POINT = 4


def _outline_error(exc: msgspec.DecodeError) -> str:
    """msgspec's message with its `$.points[3]` path as this API writes one (`points[3]`)."""
    text, sep, path = str(exc).rpartition(" - at `$")
    if not sep:
        return f"body: {exc}"
    return f"{path.rstrip('`').lstrip('.') or 'body'}: {text}"


def _check_outline(body: bytes, max_points: int) -> None:
    """413 past `max_points` points, 422 when the points are not a list of objects; counted
    without building a point, so neither costs memory or time in proportion to the body."""
    try:
        size = len(_OUTLINE.decode(body).points)
    except msgspec.DecodeError as exc:
        raise ApiError(422, _outline_error(exc)) from None
    if size > max_points:
        raise ApiError(413, f"{size} points exceed the limit of {max_points} per batch")


def agent_batch(body: bytes, max_points: int) -> AgentBatch:
    """Decode an agent batch; 422 naming the first error, 413 past `max_points` points.

    Every point is a JSON object, so the body's `{` bytes bound the point count from above:
    that one scan (C speed) clears almost every batch, and refuses a body with far more
    objects than any valid batch. In between, the points are counted before any is built,
    and so are those of a large body the fast decoder refused before the reference model
    reads it (which reports every bad item of a list: millions of errors for a hostile body).
    """
    objects = body.count(b"{")
    if objects > _OBJECTS_PER_POINT * max_points + 8:
        # Counting would build one small object per element: millions for a hostile body.
        raise ApiError(
            413,
            f"the body has {objects} JSON objects, more than a batch of at most {max_points} "
            "points holds; split the batch",
        )
    if objects > max_points:
        _check_outline(body, max_points)
    wire = fast_decode(body)
    if wire is not None:
        batch = AgentBatch(wire.batch_id, wire.agent, len(wire.points), wire, None)
    else:
        if len(body) > INLINE_BYTES:
            _check_outline(body, max_points)
        try:
            strict = BatchIn.model_validate_json(body)
        except ValidationError as exc:
            raise ApiError(422, _first_error(exc), reason=Refusal.INVALID) from None
        batch = AgentBatch(strict.batch_id, strict.agent, len(strict.points), None, strict)
    if batch.size > max_points:
        raise ApiError(
            413,
            f"{batch.size} points exceed the limit of {max_points} per batch",
            reason=Refusal.TOO_LARGE,
        )
    return batch


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line left out of a line-protocol write, and why."""

    line: int
    why: str
    unparsed: bool  # it did not parse (rather than failing a check)
    # Why it can never be stored, in one word (counted per host as refused).
    reason: str = Refusal.INVALID

    def __str__(self) -> str:
        return f"line {self.line}: {self.why}"


@dataclass(frozen=True, slots=True)
class LineProtocolWrite:
    """The points of a line-protocol request and the lines left out (partial write)."""

    points: PointBatch
    rejected: list[Rejected]

    def summary(self, limit: int = 10) -> str:
        """The rejected lines, the first `limit` named."""
        named = "; ".join(str(r) for r in self.rejected[:limit])
        more = len(self.rejected) - limit
        return named + (f"; and {more} more lines" if more > 0 else "")


def _too_many_lines(max_points: int) -> ApiError:
    return ApiError(413, f"more than {max_points} points in one request (the limit); split it")


def line_protocol(
    body: Body, precision: str, host: str, validator: Validator, now_ns: int
) -> LineProtocolWrite:
    """Line protocol to points for `host` (a `host` tag in the lines is overridden).

    As InfluxDB does, a line that does not parse or that a check refuses is left out and
    reported, and the others are kept. 400 for an unknown precision; 413 past the point
    limit, found before any line is parsed: a large body's data lines are first counted
    while it is decompressed (stopping at the limit), a small one's while it is parsed.
    """
    multiplier = lineproto.PRECISIONS.get(precision)
    if multiplier is None:
        raise ApiError(400, f"unknown precision {precision!r}; use ns, us, ms, s, m or h")
    lim = validator.limits
    if not body.small() and lineproto.count_data_lines(body.scan(), lim.max_points) > (
        lim.max_points
    ):
        raise _too_many_lines(lim.max_points)
    low, high = now_ns - lim.max_past_ns, now_ns + lim.max_future_ns
    points: list[Point] = []
    rejected: list[Rejected] = []
    count = 0
    for number, raw in lineproto.data_lines(body.chunks()):
        count += 1
        if count > lim.max_points:
            raise _too_many_lines(lim.max_points)
        try:
            line = lineproto.parse_bytes(raw)
        except lineproto.LineError as exc:
            text = raw[:80].decode("utf-8", "replace")
            rejected.append(Rejected(number, f"unable to parse {text!r}: {exc}", True))
            continue
        t = now_ns if line.time is None else line.time * multiplier
        if not low <= t <= high:
            why = Refusal.TOO_OLD if t < low else Refusal.IN_FUTURE
            rejected.append(Rejected(number, "timestamp outside the accepted window", False, why))
            continue
        try:
            points.append(
                validator.point(0, host, line.measurement, t, line.tags, line.fields, True)
            )
        except BadPoint as exc:
            rejected.append(Rejected(number, exc.why, False))
    return LineProtocolWrite(PointBatch.of(points), rejected)


def refused_points(
    exc: ApiError, validator: Validator, times_ns: Iterable[float | int], now_ns: int
) -> int:
    """How many points a refusal is about (error path only): every point outside the time
    window for a time refusal, else the one point the error names."""
    if exc.reason in (Refusal.TOO_OLD, Refusal.IN_FUTURE):
        return validator.outside_window(times_ns, now_ns)
    return 1
