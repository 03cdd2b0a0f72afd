"""Imports for the long-running agent that leave out what it never uses."""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

# requests imports a character-set detector to guess the encoding of text answers.
# The agent only ever reads short JSON error messages, which it decodes as UTF-8 itself,
# and charset_normalizer (with the CJK codecs it loads) is ~3 MB of resident memory.
_DETECTORS = ("charset_normalizer", "chardet")
# Talking plain HTTP (a server on loopback), TLS is never used, yet urllib3 imports ssl
# and requests imports hashlib, and either one loads and initialises OpenSSL's libcrypto:
# ~5 MB resident. Without them urllib3 refuses https:// URLs, and hashlib uses its own
# digests.
_TLS = ("ssl", "_hashlib")


def _forget(prefix: str) -> None:
    for name in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
        del sys.modules[name]


def import_requests(tls: bool = True) -> ModuleType:
    """`requests`, imported without a character-set detector (and TLS when `tls` is false).

    requests 2.32 and later work without a detector (text falls back to UTF-8); older
    versions fail to import without one, and are then imported the ordinary way. A process
    that has already imported requests keeps what it has.
    """
    if "requests" in sys.modules:
        return sys.modules["requests"]
    left_out = _DETECTORS if tls else _DETECTORS + _TLS
    blocked = [name for name in left_out if name not in sys.modules]
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
