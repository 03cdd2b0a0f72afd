"""Lossless encoding of names and tag values that line protocol cannot carry verbatim.

Line protocol has no escape for a line break, and InfluxDB 1.x does not unescape a
backslash in tag keys or values (so a trailing backslash swallows the delimiter after it).
A name or tag value that contains a backslash or a control character, is empty, or starts
with the marker itself is therefore stored as ``~b64~`` + URL-safe base64 of its UTF-8
bytes (no padding). Every other value (the overwhelming majority) is stored verbatim, so
Grafana and hand-written InfluxQL see ordinary names. Reads reverse the encoding.
"""

from __future__ import annotations

import base64
import binascii
import re

MARKER = "~b64~"
_NEEDS_ENCODING = re.compile(r"[\\\x00-\x1f\x7f]")


def encode_name(value: str) -> str:
    """The stored form of a measurement, tag key, tag value or field key."""
    if value and not _NEEDS_ENCODING.search(value) and not value.startswith(MARKER):
        return value
    return MARKER + base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_name(stored: str) -> str:
    """Reverse `encode_name`; a stored value without the marker is returned as is."""
    if not stored.startswith(MARKER):
        return stored
    body = stored[len(MARKER) :]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return stored
