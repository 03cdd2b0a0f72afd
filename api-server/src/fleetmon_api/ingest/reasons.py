"""Why ingest refused points: the one vocabulary of the answers' `reason`, /metrics and hosts.

An agent counts the points of a batch refused with one of these as dropped with that reason
(it can never be stored by retrying); the server counts them per host as refused.
"""

from __future__ import annotations

import enum


class Refusal(enum.StrEnum):
    """Why points were not stored."""

    # Older than the raw tier keeps (minus the safety margin): the store would drop them.
    TOO_OLD = "too_old"
    # More than max_future_s ahead of the server's clock.
    IN_FUTURE = "in_future"
    # A name, value, tag or count the ingest rules refuse.
    INVALID = "invalid"
    # A field sent with another type than it has (ingest/fieldtypes.py, FieldTypeConflict).
    FIELD_TYPE = "field_type"
    # Past the host's series/measurement/field budget (ingest/cardinality.py).
    CARDINALITY = "cardinality"
    # The store answered but did not keep every point (type conflict, retention).
    STORE_DROPPED = "store_dropped"
    # Over the body, decompressed or point-count limit.
    TOO_LARGE = "too_large"
