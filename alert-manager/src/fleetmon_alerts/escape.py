"""One escaping function per notification sink; every channel renders through these.

What reaches a message is partly chosen by agents (host labels, process names in top
processes) and partly by admins (rule names, annotation templates). Each sink gets the
escaping its own syntax needs, applied to the finished text, so nothing spliced into a
template can add a mention, a link, a header or a new code block.
"""

from __future__ import annotations

import re

from fleetmon_db.text import printable

# Slack: only &, < and > are control characters in mrkdwn (links, mentions, `<!channel>`);
# Slack's own guide says to escape exactly these three as HTML entities.
_SLACK_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# U+02CB MODIFIER LETTER GRAVE ACCENT looks like a backtick but cannot open or close code.
_LOOKALIKE_BACKTICK = "\u02cb"

# Discord markdown: a backslash before any of these shows it literally (masked links
# `[x](url)`, mentions `<@id>`, emphasis, spoilers, quotes, headings, code).
_DISCORD_SPECIAL = frozenset("\\*_~`|><[]()#@")

# Alertmanager label names must match this (a bad one makes it refuse the whole POST).
_LABEL_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")


def _clip(parts: list[str], limit: int | None) -> str:
    """Join escaped pieces, stopping before the piece that would pass `limit` characters,
    so an entity or an escape sequence is never cut in half."""
    if limit is None:
        return "".join(parts)
    out: list[str] = []
    used = 0
    for part in parts:
        if used + len(part) > limit:
            break
        out.append(part)
        used += len(part)
    return "".join(out)


def mrkdwn(value: object, limit: int | None = None, *, lines: bool = False) -> str:
    """Text for a Slack mrkdwn field: controls made spaces (line feeds kept if `lines`),
    `&<>` as entities."""
    text = printable(value, keep_newlines=lines)
    return _clip([_SLACK_ENTITIES.get(c, c) for c in text], limit)


def mrkdwn_code(value: object) -> str:
    """Text for one line inside a Slack ``` block: also no backtick, so it cannot end it."""
    return mrkdwn(value).replace("`", _LOOKALIKE_BACKTICK)


def discord(value: object, limit: int | None = None, *, lines: bool = False) -> str:
    """Text for Discord markdown (message content, embed description and field values)."""
    text = printable(value, keep_newlines=lines)
    return _clip([f"\\{c}" if c in _DISCORD_SPECIAL else c for c in text], limit)


def header(value: object, limit: int = 200) -> str:
    """A mail header value: one line (no CR/LF can start a new header), at most `limit`
    characters; the email package then encodes non-ASCII as RFC 2047 words."""
    return " ".join(printable(value).split())[:limit]


def label_name(name: object) -> str:
    """An Alertmanager label or annotation name: `[A-Za-z_][A-Za-z0-9_]*`."""
    cleaned = _LABEL_NAME_BAD.sub("_", str(name)) or "_"
    return cleaned if not cleaned[0].isdigit() else f"_{cleaned}"


def label_value(value: object, *, lines: bool = False) -> str:
    """An Alertmanager label or annotation value: plain text without control characters
    (line feeds kept in annotations if `lines`); Alertmanager's receivers put it into
    their own templates, which must treat it as text."""
    return printable(value, keep_newlines=lines)
