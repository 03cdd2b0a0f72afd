"""Imports for the long-running agent that leave out what it never uses."""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

# requests imports a character-set detector to guess the encoding of text answers.
# The agent only ever reads short JSON error messages, which it decodes as UTF-8 itself,
# and charset_normalizer (with the CJK codecs it loads) is ~3 MB of resident memory.
_DETECTORS = ("charset_normalizer", "chardet")


def _forget(prefix: str) -> None:
    for name in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
        del sys.modules[name]


def import_requests() -> ModuleType:
    """`requests`, imported without a character-set detector when it can do without one.

    requests 2.32 and later work without one (text falls back to UTF-8); older versions
    fail to import without it, and are then imported the ordinary way. A process that has
    already imported requests keeps what it has.
    """
    if "requests" in sys.modules:
        return sys.modules["requests"]
    blocked = [name for name in _DETECTORS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        with warnings.catch_warnings():
            # "Unable to find acceptable character detection dependency": intended.
            warnings.filterwarnings("ignore", message=".*character detection")
            import requests
    except ImportError:
        _forget("requests")
        for name in blocked:
            del sys.modules[name]
        blocked = []
        import requests
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
    return requests
