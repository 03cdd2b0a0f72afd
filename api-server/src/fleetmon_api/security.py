"""Secrets: API keys and enrollment tokens (sha256), passwords (argon2), JWTs (PyJWT)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HOST_KEY_PREFIX = "fm_"
ENROLL_TOKEN_PREFIX = "fme_"  # noqa: S105 - a public marker, not a secret
_PREFIX_CHARS = 12

_hasher = PasswordHasher()
# Verifying against this keeps login timing the same for unknown users.
_DUMMY_HASH = _hasher.hash("fleetmon-dummy-password")


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A freshly generated secret: shown once; only prefix and hash are stored."""

    value: str
    prefix: str
    hash: str


def hash_secret(value: str) -> str:
    """sha256 of a high-entropy random secret (a slow KDF adds nothing at 256 bits)."""
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(value: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(value), stored_hash)


def _generate(kind_prefix: str) -> NewSecret:
    value = kind_prefix + secrets.token_urlsafe(32)
    return NewSecret(value=value, prefix=secret_prefix(value), hash=hash_secret(value))


def secret_prefix(value: str) -> str:
    """The public lookup prefix of a secret (not secret on its own)."""
    return value[: len(value.split("_", 1)[0]) + 1 + _PREFIX_CHARS]


def new_host_key() -> NewSecret:
    """A new host API key `fm_...`."""
    return _generate(HOST_KEY_PREFIX)


def new_enroll_token() -> NewSecret:
    """A new enrollment token `fme_...`."""
    return _generate(ENROLL_TOKEN_PREFIX)


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    """True if the password matches; spends the same time when there is no user."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class JWTConfig:
    """What signs and checks people's tokens; the algorithm is pinned, never read from tokens."""

    key: str
    algorithm: str
    issuer: str
    audience: str
    ttl_s: int


def issue_token(cfg: JWTConfig, subject: str, role: str, now: float | None = None) -> str:
    """A signed, short-lived token for a person."""
    iat = int(now if now is not None else time.time())
    claims = {
        "sub": subject,
        "role": role,
        "iat": iat,
        "exp": iat + cfg.ttl_s,
        "iss": cfg.issuer,
        "aud": cfg.audience,
    }
    return jwt.encode(claims, cfg.key, algorithm=cfg.algorithm)


def decode_token(cfg: JWTConfig, token: str) -> dict[str, Any]:
    """Verify signature, exp, iat, iss and aud; raise jwt.InvalidTokenError otherwise."""
    claims: dict[str, Any] = jwt.decode(
        token,
        cfg.key,
        algorithms=[cfg.algorithm],
        audience=cfg.audience,
        issuer=cfg.issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return claims
