"""Annotated dependency aliases shared by every router (FastAPI project-template style).

- `State`, `AppSettings`: the per-app runtime state and settings.
- `DbSession`: a metadata-database session (sync; use from `def` endpoints).
- `Store`: the time-series store (sync methods; call from `def` endpoints or the threadpool).
- `CurrentUser` / `ViewerUser`: any signed-in person (viewer or admin) as a `Principal`.
- `AdminUser`: a signed-in admin; viewers get 403.
- `IngestHost`: the host authenticated by its API key (Bearer, `Token`, Basic password or `p=`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetmon_api.keycache import HostIdentity
from fleetmon_api.security import decode_token, hash_secret, secret_matches, secret_prefix
from fleetmon_api.settings import Settings
from fleetmon_api.state import AppState
from fleetmon_db.models import Host, HostKey, Role, User
from fleetmon_db.timeseries import TimeSeriesStore

# Dependencies that do no I/O are `async def`: FastAPI runs plain `def` ones in a worker
# thread, and that hop costs more than their work.


async def get_state(request: Request) -> AppState:
    """The state the lifespan attached to the app."""
    state: AppState = request.app.state.fleetmon
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_settings(state: State) -> Settings:
    """This process's settings."""
    return state.settings


AppSettings = Annotated[Settings, Depends(get_settings)]


def get_db(state: State) -> Iterator[Session]:
    """One session per request; committed by the endpoint, closed here."""
    with state.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]


async def get_store(state: State) -> TimeSeriesStore:
    """The time-series store."""
    return state.store


Store = Annotated[TimeSeriesStore, Depends(get_store)]


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person."""

    user_id: int
    username: str
    role: Role

    @property
    def is_admin(self) -> bool:
        """True for admins."""
        return self.role == Role.ADMIN


def _unauthorized(detail: str, scheme: str = "Bearer") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": scheme})


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_user(request: Request, state: State) -> Principal:
    """The person a valid JWT names; 401 otherwise."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("not authenticated: send Authorization: Bearer <token>")
    try:
        claims = decode_token(state.jwt, token)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("invalid token") from None
    with state.sessions() as db:
        user = db.scalar(select(User).where(User.username == str(claims["sub"])))
    if user is None or user.disabled:
        raise _unauthorized("invalid token: unknown or disabled user")
    return Principal(user.id, user.username, Role(user.role))


CurrentUser = Annotated[Principal, Depends(current_user)]
ViewerUser = CurrentUser


def require_admin(user: CurrentUser) -> Principal:
    """403 unless the person is an admin."""
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin role required")
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]


def host_credential(request: Request) -> str | None:
    """A host key from Bearer, `Token` (InfluxDB 2.x), Basic password or `p=` (InfluxDB 1.x)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in ("bearer", "token") and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return request.query_params.get("p") or None


def authenticate_host(state: AppState, key: str | None) -> HostIdentity:
    """Resolve a host key to its host (cached briefly); 401 if missing, unknown or revoked."""
    if not key:
        raise _unauthorized("missing host API key: send Authorization: Bearer <key>")
    digest = hash_secret(key)
    cached = state.keys.get(digest)
    if cached is not None:
        return cached
    return _load_host_key(state, key, digest)


def _load_host_key(state: AppState, key: str, digest: str) -> HostIdentity:
    """A key the cache does not hold, from the database (then cached); 401 as above."""
    now = state.clock()
    with state.sessions() as db:
        row = db.execute(
            select(HostKey, Host.name)
            .join(Host, Host.id == HostKey.host_id)
            .where(HostKey.prefix == secret_prefix(key))
        ).first()
    if row is None:
        raise _unauthorized("invalid host API key")
    hk, name = row
    # Compare the hash in constant time even though the prefix already matched.
    if not secret_matches(key, hk.key_hash):
        raise _unauthorized("invalid host API key")
    if hk.revoked_at is not None:
        raise _unauthorized("host API key revoked")
    if hk.expires_at is not None and hk.expires_at <= now:
        raise _unauthorized("host API key expired")
    ident = HostIdentity(host_id=hk.host_id, name=name, key_id=hk.id)
    expires_in = None if hk.expires_at is None else (hk.expires_at - now).total_seconds()
    state.keys.put(digest, ident, expires_in)
    return ident


async def ingest_host(request: Request, state: State) -> HostIdentity:
    """The host authenticated by the request's key, after its rate limit.

    On the event loop when that needs no I/O (in-process counters, a cached key); the
    Redis counter and the database lookup of an unknown key go to a worker thread. Only
    keys that authenticated get a rate-limit counter, so random keys cannot fill the
    limiter's storage; they count as failures of their client address instead.
    """
    key = host_credential(request)
    digest = hash_secret(key) if key else None
    ident = state.keys.get(digest) if digest else None
    if ident is None:
        ident = await _authenticate_uncached(request, state, key, digest)
    # Rate-limit by key (not by IP: many hosts share NAT); hashed so keys never reach Redis.
    # (An identity implies a key was sent, so `digest` is set here.)
    limit_key = digest[:32] if digest else ""
    if state.limiter.local:
        state.limiter.check("ingest", limit_key)
    else:
        await run_in_threadpool(state.limiter.check, "ingest", limit_key)
    return ident


async def _authenticate_uncached(
    request: Request, state: AppState, key: str | None, digest: str | None
) -> HostIdentity:
    """A key the cache does not hold: 429 without any lookup for an address that failed too
    often, else the database; a 401 counts as one failure of the client address."""
    client = client_ip(request)
    state.limiter.refuse_if_over("auth_failure", client)
    try:
        if not key or not digest:
            return authenticate_host(state, key)  # 401: no key
        return await run_in_threadpool(_load_host_key, state, key, digest)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            if state.limiter.local:
                state.limiter.count_failure("auth_failure", client)
            else:
                await run_in_threadpool(state.limiter.count_failure, "auth_failure", client)
        raise


IngestHost = Annotated[HostIdentity, Depends(ingest_host)]


def client_ip(request: Request) -> str:
    """The peer address (put a trusted proxy's forwarded-for handling in front if needed)."""
    return request.client.host if request.client else "unknown"


def limit_by_ip(scope: str) -> object:
    """A dependency that rate-limits `scope` per client IP."""

    def check(request: Request, state: State) -> None:
        state.limiter.check(scope, client_ip(request))

    return Depends(check)
