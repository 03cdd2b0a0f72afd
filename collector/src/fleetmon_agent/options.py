"""Declared settings: typed options with a default, a value kind and a one-line doc.

Every YAML section of the agent's config and every collector's options are a subclass of
`Options` whose class attributes are `Option`s. The declaration is the whole truth about a
setting: its type, its default, how a value is parsed and checked, how it is shown in the
example config, and its documentation. No dataclasses: they import `inspect` (~0.8 MB).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar, overload

T = TypeVar("T")
O = TypeVar("O", bound="Options")  # noqa: E741 - the conventional name

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*", re.I)
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_DURATION_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_.*/:+-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


class Kind(Generic[T]):
    """How a value is parsed (ValueError names what is allowed) and shown in YAML."""

    def parse(self, value: Any) -> T:
        """The parsed value; raises ValueError("must be ...") otherwise."""
        raise NotImplementedError

    def render(self, value: T) -> str:
        """The value as YAML text."""
        return yaml_scalar(str(value))


def yaml_scalar(text: str) -> str:
    """A string as a YAML scalar: plain when that reads back as the same string."""
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS and not _is_number(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Number(Kind[float]):
    """A number between two bounds."""

    def __init__(self, lo: float, hi: float, what: str = "a number") -> None:
        self.lo, self.hi = lo, hi
        self.rule = f"must be {what} between {lo:g} and {hi:g}"

    def parse(self, value: Any) -> float:
        """The number, checked."""
        if isinstance(value, bool):
            raise ValueError(self.rule)
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(self.rule) from None
        if not self.lo <= f <= self.hi:
            raise ValueError(self.rule)
        return f

    def render(self, value: float) -> str:
        """`2.0` stays `2.0`, `50.0` becomes `50`."""
        return f"{value:g}" if value != int(value) else str(int(value))


class Integer(Kind[int]):
    """An integer between two bounds."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.rule = f"must be an integer between {lo} and {hi}"

    def parse(self, value: Any) -> int:
        """The integer, checked."""
        if isinstance(value, bool):
            raise ValueError(self.rule)
        try:
            i = int(str(value).strip())
        except ValueError:
            raise ValueError(self.rule) from None
        if not self.lo <= i <= self.hi:
            raise ValueError(self.rule)
        return i

    def render(self, value: int) -> str:
        """The digits."""
        return str(value)


class Duration(Kind[float]):
    """Seconds, written as 5, 30s, 15m, 24h, 500ms, 7d."""

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        self.rule = f"must be a duration between {lo:g}s and {hi:g}s (e.g. 5, 30s, 15m, 24h)"

    def parse(self, value: Any) -> float:
        """Seconds, checked."""
        if isinstance(value, bool):
            raise ValueError(self.rule)
        m = _DURATION.fullmatch(str(value))
        if not m:
            raise ValueError(self.rule)
        f = float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "").lower()]
        if not self.lo <= f <= self.hi:
            raise ValueError(self.rule)
        return f

    def render(self, value: float) -> str:
        """The largest unit that divides the value: 86400 -> 24h, 30 -> 30s."""
        for unit, secs in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
            if value >= secs and value % secs == 0:
                return f"{int(value // secs)}{unit}"
        return f"{value * 1000:g}ms"


class Size(Kind[int]):
    """Bytes, written as 1048576, 100MB, 1GiB."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.rule = f"must be a size between {lo} and {hi} bytes (e.g. 1048576, 100MB, 1GiB)"

    def parse(self, value: Any) -> int:
        """Bytes, checked."""
        if isinstance(value, bool):
            raise ValueError(self.rule)
        m = _SIZE.fullmatch(str(value))
        if not m:
            raise ValueError(self.rule)
        unit = (m.group(2) or "").lower()
        mult = _SIZE_UNITS[unit[:1]] if unit else 1
        if "i" in unit:
            mult = 1024 ** "bkmgt".index(unit[0])
        n = int(float(m.group(1)) * mult)
        if not self.lo <= n <= self.hi:
            raise ValueError(self.rule)
        return n

    def render(self, value: int) -> str:
        """100000000 -> 100MB."""
        for unit, mult in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
            if value >= mult and value % mult == 0:
                return f"{value // mult}{unit}"
        return str(value)


class Boolean(Kind[bool]):
    """true/false (also yes/no, on/off, 1/0: environment variables are text)."""

    def parse(self, value: Any) -> bool:
        """The flag."""
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("true", "yes", "on", "1"):
            return True
        if s in ("false", "no", "off", "0"):
            return False
        raise ValueError("must be true or false")

    def render(self, value: bool) -> str:
        """true or false."""
        return "true" if value else "false"


class Text(Kind[str]):
    """Any string (empty when unset)."""

    def parse(self, value: Any) -> str:
        """The string."""
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            raise ValueError("must be a string")
        return str(value)

    def render(self, value: str) -> str:
        """Quoted when YAML would read it as something else; "" when empty."""
        return yaml_scalar(value) if value else '""'


class Url(Text):
    """An http:// or https:// URL (empty when unset); a trailing slash is dropped."""

    def parse(self, value: Any) -> str:
        """The URL, checked."""
        s = super().parse(value).rstrip("/")
        # The whole URL: no whitespace anywhere (a pasted "https://x\n" is refused here).
        if s and not re.fullmatch(r"https?://[^/\s]+(?:/\S*)?", s):
            raise ValueError("must be an http:// or https:// URL")
        return s


class Choice(Kind[str]):
    """One of a fixed set of words."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def parse(self, value: Any) -> str:
        """The word, lower-cased."""
        s = Text().parse(value).strip().lower()
        if s not in self.choices:
            raise ValueError(f"must be one of: {', '.join(self.choices)}")
        return s


class TextList(Kind[list[str]]):
    """A list of strings; from the environment, comma-separated."""

    def parse(self, value: Any) -> list[str]:
        """The list."""
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise ValueError("must be a list of strings")
        return list(value)

    def render(self, value: list[str]) -> str:
        """A flow sequence: [a, b, "c*"]."""
        return "[" + ", ".join(yaml_scalar(s) for s in value) + "]"


class Option(Generic[T]):
    """One declared setting: default, kind and one-line doc (`example` replaces the default
    in the example config, e.g. for a URL that has no default)."""

    __slots__ = ("default", "doc", "example", "kind", "name", "secret")

    def __init__(
        self,
        default: T,
        kind: Kind[T],
        doc: str,
        *,
        secret: bool = False,
        example: str | None = None,
    ) -> None:
        self.default = default
        self.kind = kind
        self.doc = doc
        self.secret = secret  # never echoed in an error message
        self.example = example
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Option[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: object | None, owner: type) -> Option[T] | T:
        # Instances hold their values in __dict__, which shadows this (non-data) descriptor:
        # reading a setting is a plain attribute lookup; the class attribute is the Option.
        if obj is None:
            return self
        return self.default

    def fresh_default(self) -> T:
        """The default, copied when it is a mutable list."""
        d = self.default
        return list(d) if isinstance(d, list) else d  # type: ignore[return-value]

    def shown(self) -> str:
        """The value written in the example config."""
        return self.example if self.example is not None else self.kind.render(self.default)


class Options:
    """A group of declared options: a YAML section, or one collector's options."""

    _declared: ClassVar[dict[str, Option[Any]]]

    def __init__(self, **values: Any) -> None:
        declared = self.declared()
        unknown = set(values) - set(declared)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown option(s) {sorted(unknown)}")
        for name, opt in declared.items():
            self.__dict__[name] = values[name] if name in values else opt.fresh_default()

    @classmethod
    def declared(cls) -> dict[str, Option[Any]]:
        """Every option, base classes' first, in declaration order."""
        if "_declared" not in cls.__dict__:
            found: dict[str, Option[Any]] = {}
            for klass in reversed(cls.__mro__):
                for name, value in vars(klass).items():
                    if isinstance(value, Option):
                        found[name] = value  # an override keeps the base's position
            cls._declared = found
        return cls._declared

    @classmethod
    def parse(cls: type[O], given: Any, where: str, errors: list[str]) -> O:
        """Validate a mapping from YAML (and the environment); every problem goes to `errors`
        as `<where>.<key> = <value>: <rule>`. Unset or invalid keys keep their defaults."""
        declared = cls.declared()
        values: dict[str, Any] = {}
        if given is None:
            given = {}
        if not isinstance(given, Mapping):
            errors.append(f"{where} = {given!r}: must be a mapping")
            given = {}
        for key, value in given.items():
            opt = declared.get(key)
            if opt is None:
                errors.append(
                    f"{where}.{key} = {value!r}: unknown key (allowed: {', '.join(declared)})"
                )
                continue
            try:
                values[key] = opt.kind.parse(value)
            except ValueError as exc:
                shown = "***" if opt.secret else repr(value)
                errors.append(f"{where}.{key} = {shown}: {exc}")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The values by name."""
        return {name: self.__dict__[name] for name in self.declared()}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Options)
            and type(other) is type(self)
            and (self.as_dict() == other.as_dict())
        )

    __hash__ = None  # type: ignore[assignment]  # mutable: equal by value, never a key

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{n}={'***' if o.secret and self.__dict__[n] else repr(self.__dict__[n])}"
            for n, o in self.declared().items()
        )
        return f"{type(self).__name__}({shown})"
