"""Name the cause of a failed request in words an operator can act on."""

from __future__ import annotations

import socket
from collections.abc import Iterator


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (causes, contexts, urllib3's `reason`, args)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 32:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for nxt in (getattr(e, "reason", None), e.__cause__, e.__context__, *e.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def is_tls(exc: BaseException) -> bool:
    """Whether the request failed in the TLS handshake (certificate, protocol)."""
    return any(type(e).__name__ in ("SSLError", "SSLCertVerificationError") for e in _chain(exc))


def describe(exc: BaseException, url: str, timeout: float) -> str:
    """One line: what went wrong talking to `url` (refused, DNS, TLS, timeout, closed)."""
    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}
    for e in chain:
        if type(e).__name__ == "SSLCertVerificationError":
            why = getattr(e, "verify_message", "") or str(e)
            return f"TLS: certificate verification failed ({why}); set server.ca_bundle"
    if names & {"SSLError", "SSLZeroReturnError", "SSLEOFError"}:
        return f"TLS error ({_last_words(chain)})"
    if isinstance(exc, ConnectionRefusedError) or "ConnectionRefusedError" in names:
        return f"connection refused (nothing listens at {url})"
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names:
        return f"DNS: cannot resolve the host of {url}"
    if names & {"ConnectTimeout", "ConnectTimeoutError"}:
        return f"timeout: no connection within {timeout:g}s"
    if names & {"ReadTimeout", "ReadTimeoutError", "TimeoutError", "timeout"}:
        return f"timeout: no answer within {timeout:g}s"
    if names & {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"}:
        return "connection closed by the server before it answered"
    if "OSError" in names or names & {"NewConnectionError"}:
        return f"cannot connect ({_last_words(chain)})"
    return f"connection error: {type(exc).__name__} ({_last_words(chain)})"


def is_stale_connection(exc: BaseException) -> bool:
    """A kept-alive connection the server had closed (safe to send again at once)."""
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"})


def _last_words(chain: list[BaseException]) -> str:
    return str(chain[-1])[:200] if chain else ""
