"""Server settings: one pydantic-settings class, read from FLEETMON_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleetmon_db import embedded

# Public on purpose: embedded mode (a laptop, `make run`) may use it; servers must not.
DEFAULT_SECRET_KEY = "fleetmon-embedded-insecure-secret-key"  # noqa: S105


class Settings(BaseSettings):
    """Everything one API process is configured with; embedded defaults for every URL."""

    model_config = SettingsConfigDict(env_prefix="FLEETMON_", extra="ignore")

    data_dir: Path = embedded.DEFAULT_DATA_DIR
    database_url: str = ""
    store_url: str = ""
    # Embedded mode: SQLite everywhere, defaults allowed. None means "derive from the URLs".
    embedded: bool | None = None
    secret_key: str = DEFAULT_SECRET_KEY

    # People: short-lived JWTs, algorithm pinned here (never taken from the token header).
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "fleetmon"
    jwt_audience: str = "fleetmon-api"
    jwt_ttl_s: int = Field(default=900, gt=0)

    # Rate limits ("N/period", limits syntax); storage memory:// or redis://.
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = "fleetmon"
    ingest_rate_limit: str = "100/minute"
    enroll_rate_limit: str = "10/minute"
    login_rate_limit: str = "10/minute"
    # Redis for shared idempotency keys across workers; empty = in-process cache only.
    redis_url: str = ""

    # Ingest limits.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_decompressed_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_points: int = Field(default=50_000, gt=0)
    max_fields_per_point: int = Field(default=256, gt=0)
    max_tags_per_point: int = Field(default=64, gt=0)
    max_key_length: int = Field(default=128, gt=0)
    max_tag_value_length: int = Field(default=256, gt=0)
    max_past_s: int = Field(default=7 * 86400, gt=0)
    max_future_s: int = Field(default=600, gt=0)
    idempotency_ttl_s: int = Field(default=86400, gt=0)
    idempotency_cache_size: int = Field(default=100_000, gt=0)
    # How long an accepted host key stays cached (revocation in other workers lags this much).
    key_cache_ttl_s: float = Field(default=10.0, ge=0)

    # Base URL people reach this server at (links in test notifications); empty: the URL the
    # request came in on.
    public_url: str = ""

    # Host status from last seen.
    stale_after_s: int = Field(default=120, gt=0)
    down_after_s: int = Field(default=600, gt=0)
    presence_flush_s: float = Field(default=10.0, gt=0)
    # The fleet overview's store values are re-read in the background once older than
    # this (each worker keeps its own copy); 0 reads the store on every request.
    overview_cache_s: float = Field(default=5.0, ge=0)
    # ...and never served older than this (a failing store then answers 503).
    overview_max_age_s: float = Field(default=30.0, gt=0)

    # Background rollup + retention job; 0 disables it.
    rollup_interval_s: float = Field(default=60.0, ge=0)
    store_retry_after_s: int = Field(default=5, gt=0)

    @model_validator(mode="after")
    def _fill_embedded(self) -> Self:
        if not self.database_url:
            self.database_url = embedded.metadata_url(self.data_dir)
        if not self.store_url:
            self.store_url = embedded.store_url(self.data_dir)
        if self.embedded is None:
            self.embedded = embedded.is_embedded(self.database_url) and embedded.is_embedded(
                self.store_url
            )
        if not self.embedded and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError(
                "secret_key: the built-in default key is only allowed in embedded mode; "
                "set FLEETMON_SECRET_KEY to a long random value"
            )
        if len(self.secret_key) < 32:
            raise ValueError("secret_key: must be at least 32 characters")
        return self
