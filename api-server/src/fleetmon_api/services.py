"""Metadata operations shared by the routers and the CLI (one transaction each, values bound)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fleetmon_api.errors import ApiError
from fleetmon_api.security import (
    hash_password,
    new_enroll_token,
    new_host_key,
    secret_matches,
    secret_prefix,
)
from fleetmon_db.models import EnrollToken, Host, HostKey, Role, User

HOST_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,252}")
USERNAME_RE = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")


def check_host_name(name: str) -> None:
    """422 unless `name` is a plausible host name."""
    if not HOST_NAME_RE.fullmatch(name):
        raise ApiError(
            422,
            f"host name {name[:64]!r} must be 1-253 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit",
        )


def create_user(db: Session, username: str, password: str, role: Role) -> User:
    """Add a person; 409 if the name is taken."""
    if not USERNAME_RE.fullmatch(username):
        raise ApiError(422, "username must be 1-64 letters, digits or _ . @ -")
    if len(password) < 8:
        raise ApiError(422, "password must be at least 8 characters")
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise ApiError(409, f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role.value)
    db.add(user)
    db.commit()
    return user


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An enrollment token as created: the value is shown once."""

    id: int
    token: str
    expires_at: datetime | None
    max_uses: int | None


def create_enroll_token(
    db: Session,
    now: datetime,
    *,
    description: str = "",
    max_uses: int | None = None,
    expires_in_s: int | None = None,
    labels: dict[str, str] | None = None,
    created_by: str | None = None,
) -> IssuedToken:
    """Create an enrollment token."""
    secret = new_enroll_token()
    expires = now + timedelta(seconds=expires_in_s) if expires_in_s else None
    row = EnrollToken(
        prefix=secret.prefix,
        token_hash=secret.hash,
        description=description,
        labels=labels or {},
        expires_at=expires,
        max_uses=max_uses,
        created_by=created_by,
    )
    db.add(row)
    db.commit()
    return IssuedToken(row.id, secret.value, expires, max_uses)


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A newly enrolled host and its key (shown once)."""

    host_id: int
    host: str
    api_key: str


def enroll(db: Session, now: datetime, token: str, name: str, labels: dict[str, str]) -> Enrolled:
    """Check the token, create the host and its first key; 409 if the name is enrolled."""
    check_host_name(name)
    row = db.scalar(select(EnrollToken).where(EnrollToken.prefix == secret_prefix(token)))
    if row is None or not secret_matches(token, row.token_hash):
        raise ApiError(401, "invalid enrollment token")
    if row.revoked_at is not None:
        raise ApiError(401, "enrollment token revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise ApiError(401, "enrollment token expired")
    if row.max_uses is not None and row.use_count >= row.max_uses:
        raise ApiError(401, "enrollment token used up")
    if db.scalar(select(Host.id).where(Host.name == name)) is not None:
        raise ApiError(
            409,
            f"host {name!r} is already enrolled; delete it or rotate its key "
            "(fleetmon rotate-key) instead of enrolling again",
        )
    # Count the use atomically so concurrent enrollments cannot exceed max_uses.
    used = db.execute(
        update(EnrollToken)
        .where(
            EnrollToken.id == row.id,
            (EnrollToken.max_uses.is_(None)) | (EnrollToken.use_count < EnrollToken.max_uses),
        )
        .values(use_count=EnrollToken.use_count + 1)
    )
    if getattr(used, "rowcount", 1) != 1:
        db.rollback()
        raise ApiError(401, "enrollment token used up")
    # The token's labels are the admin's word and win: an agent cannot relabel itself
    # (e.g. env=prod to land in another team's alert scope).
    host = Host(name=name, labels={**labels, **(row.labels or {})})
    db.add(host)
    db.flush()
    secret = new_host_key()
    db.add(HostKey(host_id=host.id, prefix=secret.prefix, key_hash=secret.hash))
    db.commit()
    return Enrolled(host.id, host.name, secret.value)


def get_host(db: Session, name: str) -> Host:
    """The host named `name`; 404 otherwise."""
    host = db.scalar(select(Host).where(Host.name == name))
    if host is None:
        raise ApiError(404, f"host {name!r} not found")
    return host


def rotate_key(db: Session, host: Host, now: datetime, overlap_s: int) -> str:
    """A new key for `host`; the current keys keep working for `overlap_s` seconds."""
    until = now + timedelta(seconds=overlap_s)
    db.execute(
        update(HostKey)
        .where(
            HostKey.host_id == host.id,
            HostKey.revoked_at.is_(None),
            (HostKey.expires_at.is_(None)) | (HostKey.expires_at > until),
        )
        .values(expires_at=until)
    )
    secret = new_host_key()
    db.add(HostKey(host_id=host.id, prefix=secret.prefix, key_hash=secret.hash))
    db.commit()
    return secret.value


def revoke_keys(db: Session, host: Host, now: datetime) -> int:
    """Revoke every key of `host` at once; return how many."""
    result = db.execute(
        update(HostKey)
        .where(HostKey.host_id == host.id, HostKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.commit()
    return int(getattr(result, "rowcount", 0))


def active_key_counts(db: Session, now: datetime) -> dict[int, int]:
    """Number of usable keys per host id."""
    rows = db.execute(
        select(HostKey.host_id, func.count())
        .where(
            HostKey.revoked_at.is_(None),
            (HostKey.expires_at.is_(None)) | (HostKey.expires_at > now),
        )
        .group_by(HostKey.host_id)
    ).all()
    return {int(h): int(c) for h, c in rows}


def host_status(last_seen: datetime | None, now: datetime, stale_s: int, down_s: int) -> str:
    """up / stale / down from the age of the last contact (never seen = down)."""
    if last_seen is None:
        return "down"
    age = (now - last_seen).total_seconds()
    if age <= stale_s:
        return "up"
    if age <= down_s:
        return "stale"
    return "down"


def token_view(row: EnrollToken, now: datetime) -> dict[str, Any]:
    """An enrollment token without its secret."""
    usable = (
        row.revoked_at is None
        and (row.expires_at is None or row.expires_at > now)
        and (row.max_uses is None or row.use_count < row.max_uses)
    )
    return {
        "id": row.id,
        "prefix": row.prefix,
        "description": row.description,
        "labels": row.labels,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "max_uses": row.max_uses,
        "use_count": row.use_count,
        "revoked": row.revoked_at is not None,
        "usable": usable,
    }
