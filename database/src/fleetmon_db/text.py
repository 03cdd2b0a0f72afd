"""Text that came from an agent or a person, made safe to show as plain text."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides:
# anything a terminal, a mail header or a chat client would act on instead of showing.
_OTHER = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(rf"[\x00-\x1f{_OTHER}]")
_CONTROLS_BUT_NEWLINE = re.compile(rf"[\x00-\x09\x0b-\x1f{_OTHER}]")


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """`value` as a string with every control character replaced by a space (line feeds
    kept when `keep_newlines`, for multi-line text such as an annotation summary)."""
    text = str(value)
    if keep_newlines:
        return _CONTROLS_BUT_NEWLINE.sub(" ", text.replace("\r\n", "\n"))
    return _CONTROLS.sub(" ", text)
