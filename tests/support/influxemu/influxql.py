"""Just enough InfluxQL lexing for the emulators: split a query into statements and read the
parts of a statement that InfluxDB 2.7 and 3.x treat differently (its kind, the `ON`
database, the sources of `FROM` with their database and retention policy qualifiers).

String literals, quoted identifiers and regex literals are read as single tokens, so a
`;` or a keyword inside a tag value (the store suite writes `semi;colon; DROP TABLE`)
never splits or reclassifies a statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Token kinds.
WORD, IDENT, STRING, REGEX, PUNCT = "word", "ident", "string", "regex", "punct"


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # the value: unquoted for IDENT and STRING, the raw literal otherwise


def _quoted(q: str, i: int, end: str) -> tuple[str, int]:
    """The unescaped content of a literal opened at q[i], and the index after it."""
    out = []
    i += 1
    while i < len(q) and q[i] != end:
        if q[i] == "\\" and i + 1 < len(q):
            i += 1
        out.append(q[i])
        i += 1
    return "".join(out), i + 1


def _regex_allowed(prev: Token | None) -> bool:
    # A `/` opens a regex after =~ / !~, after FROM, after `,` in a FROM list and after the
    # `.` of `rp./.*/`; fleetmon sends no division.
    if prev is None:
        return False
    if prev.kind == PUNCT:
        return prev.text in ("=~", "!~", ".", ",")
    return prev.kind == WORD and prev.text.upper() == "FROM"


def tokens(q: str) -> list[list[Token]]:
    """Tokens of each statement of `q` (statements split on `;` outside literals)."""
    out: list[list[Token]] = [[]]
    i = 0
    while i < len(q):
        c = q[i]
        cur = out[-1]
        prev = cur[-1] if cur else None
        if c.isspace():
            i += 1
        elif c == ";":
            out.append([])
            i += 1
        elif c == "'":
            text, i = _quoted(q, i, "'")
            cur.append(Token(STRING, text))
        elif c == '"':
            text, i = _quoted(q, i, '"')
            cur.append(Token(IDENT, text))
        elif c == "/" and _regex_allowed(prev):
            j = i + 1
            while j < len(q) and q[j] != "/":
                j += 2 if q[j] == "\\" else 1
            cur.append(Token(REGEX, q[i : j + 1]))
            i = j + 1
        elif c.isalnum() or c == "_":
            j = i
            while j < len(q) and (q[j].isalnum() or q[j] == "_"):
                j += 1
            cur.append(Token(WORD, q[i:j]))
            i = j
        elif q[i : i + 2] in ("=~", "!~", "!=", "<>", ">=", "<="):
            cur.append(Token(PUNCT, q[i : i + 2]))
            i += 2
        else:
            cur.append(Token(PUNCT, c))
            i += 1
    return [s for s in out if s]


def split_statements(q: str) -> list[str]:
    """The statements of `q` as text (split where `tokens` splits)."""
    parts: list[str] = []
    start = 0
    i = 0
    prev_kind: Token | None = None
    while i < len(q):
        c = q[i]
        if c in "'\"":
            _, i = _quoted(q, i, c)
            prev_kind = Token(STRING, "")
            continue
        if c == "/" and _regex_allowed(prev_kind):
            j = i + 1
            while j < len(q) and q[j] != "/":
                j += 2 if q[j] == "\\" else 1
            i = j + 1
            prev_kind = Token(REGEX, "")
            continue
        if c == ";":
            parts.append(q[start:i])
            start = i + 1
            prev_kind = None
        elif not c.isspace():
            if c.isalnum() or c == "_":
                j = i
                while j < len(q) and (q[j].isalnum() or q[j] == "_"):
                    j += 1
                prev_kind = Token(WORD, q[i:j])
                i = j
                continue
            two = q[i : i + 2]
            if two in ("=~", "!~"):
                prev_kind = Token(PUNCT, two)
                i += 2
                continue
            prev_kind = Token(PUNCT, c)
        i += 1
    parts.append(q[start:])
    return [p.strip() for p in parts if p.strip()]


@dataclass(frozen=True)
class Source:
    """One measurement of a FROM clause with its qualifiers ("" when absent)."""

    database: str
    retention_policy: str
    measurement: str


@dataclass
class Statement:
    """What the emulators need to know of one statement."""

    text: str
    kind: str  # e.g. "SELECT", "SHOW TAG VALUES", "DROP SERIES", "CREATE RETENTION POLICY"
    on: str = ""  # the ON database of SHOW statements
    sources: list[Source] = field(default_factory=list)
    with_key: str = ""  # SHOW TAG VALUES ... WITH KEY = "<key>"
    has_where: bool = False


_KINDS = (
    ("ALTER", "RETENTION", "POLICY"),
    ("CREATE", "RETENTION", "POLICY"),
    ("DROP", "RETENTION", "POLICY"),
    ("SHOW", "RETENTION", "POLICIES"),
    ("SHOW", "FIELD", "KEYS"),
    ("SHOW", "TAG", "VALUES"),
    ("SHOW", "TAG", "KEYS"),
    ("SHOW", "SHARD", "GROUPS"),
    ("CREATE", "DATABASE"),
    ("DROP", "DATABASE"),
    ("DROP", "SERIES"),
    ("DROP", "SHARD"),
    ("DROP", "MEASUREMENT"),
    ("SHOW", "SHARDS"),
    ("SHOW", "DATABASES"),
    ("SHOW", "MEASUREMENTS"),
    ("SHOW", "SERIES"),
    ("SELECT",),
    ("DELETE",),
)
_FROM_END = {"WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET", "WITH", "FILL"}


def parse(text: str) -> Statement:
    """Kind, ON database and FROM sources of one statement."""
    (toks,) = tokens(text) or [[]]
    words = [t.text.upper() if t.kind == WORD else "" for t in toks]
    kind = next(
        (" ".join(k) for k in _KINDS if tuple(words[: len(k)]) == k),
        " ".join(w for w in words[:2] if w),
    )
    st = Statement(text, kind)
    for i, t in enumerate(toks):
        if t.kind == WORD and words[i] == "ON" and i + 1 < len(toks) and st.kind != "SELECT":
            st.on = toks[i + 1].text
        if words[i : i + 2] == ["WITH", "KEY"] and i + 3 < len(toks) and toks[i + 2].text == "=":
            st.with_key = toks[i + 3].text
        if words[i] == "WHERE":
            st.has_where = True
        if t.kind == WORD and words[i] == "FROM" and not st.sources:
            st.sources = _sources(toks[i + 1 :], words[i + 1 :])
    return st


def _sources(toks: list[Token], words: list[str]) -> list[Source]:
    out: list[Source] = []
    parts: list[str] = []
    for t, w in zip(toks, words, strict=True):
        if w in _FROM_END:
            break
        if t.kind == PUNCT and t.text == ",":
            out.append(_source(parts))
            parts = []
        elif t.kind != PUNCT:
            parts.append(t.text)
    if parts:
        out.append(_source(parts))
    return out


def _source(parts: list[str]) -> Source:
    parts = parts[-3:]
    while len(parts) < 3:
        parts.insert(0, "")
    return Source(parts[0], parts[1], parts[2])
