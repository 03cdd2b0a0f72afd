"""Give the process's freed heap memory back to the operating system after a big job.

A long-lived server's RSS is the high-water mark of its heap: glibc keeps freed memory in
its arenas for reuse, so every larger transient peak (an alert evaluation reading a fuller
window of data than the last, a rollup reading more hosts) raises RSS for good, and with
worker threads each allocating from its own arena the freed pages rarely line up. In a
30-minute soak that looked like slow growth of the alert worker and the API (about 1.5 MB a
minute) while their live Python objects did not grow (tracemalloc: +0.2 MB in 15 alert
evaluations). `trim()` returns the free pages (glibc's `malloc_trim`, which also releases
free pages inside arenas; elsewhere it does nothing): the alert worker after each
evaluation, the API every 30 s (its peaks come from rollup runs and bursts of requests).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim with
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_MALLOC_TRIM = _load()


def trim() -> bool:
    """Return free heap pages to the OS; True if the C library could."""
    if _MALLOC_TRIM is None:
        return False
    try:
        return bool(_MALLOC_TRIM(0))
    except OSError:
        log.debug("malloc_trim failed", exc_info=True)
        return False
