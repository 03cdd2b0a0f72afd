"""Server settings: one pydantic-settings class, read from FLEETMON_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleetmon_db import embedded, envcheck

MIN_SECRET_KEY_LENGTH = 32


class MissingSecretKey(ValueError):
    """Serving needs a signing key for people's JWTs, and there is no safe default."""

    def __init__(self) -> None:
        super().__init__(
            "FLEETMON_SECRET_KEY is not set: the API signs logins with it; set it to a random "
            f"value of at least {MIN_SECRET_KEY_LENGTH} characters, e.g. "
            "FLEETMON_SECRET_KEY=$(openssl rand -hex 32) (only `fleetmon up`, the embedded "
            "laptop mode, generates one by itself)"
        )


class Settings(BaseSettings):
    """Everything one API process is configured with; embedded defaults for every URL."""

    model_config = SettingsConfigDict(env_prefix="FLEETMON_", extra="ignore")

    data_dir: Path = embedded.DEFAULT_DATA_DIR
    database_url: str = ""
    store_url: str = ""
    # Embedded mode: SQLite everywhere. None means "derive from the URLs".
    embedded: bool | None = None
    # Signs people's JWTs. No default: a built-in key would be public (see `signing_key`).
    secret_key: str | None = Field(default=None, repr=False)

    # People: short-lived JWTs, algorithm pinned here (never taken from the token header).
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "fleetmon"
    jwt_audience: str = "fleetmon-api"
    jwt_ttl_s: int = Field(default=900, gt=0)

    # Rate limits ("N/period", limits syntax); storage memory:// or redis://. Empty: the
    # Redis of `redis_url` when set (shared by every worker and replica), else in-process.
    rate_limit_storage_url: str = ""
    rate_limit_key_prefix: str = "fleetmon"
    ingest_rate_limit: str = "100/minute"
    enroll_rate_limit: str = "10/minute"
    login_rate_limit: str = "10/minute"
    # Failed host-key authentications per client address; over it, keys the cache does not
    # hold are refused (429) without a database lookup until the window ends.
    auth_failure_rate_limit: str = "60/minute"
    # Redis shared by every worker and replica: batch ids (idempotency) and, unless
    # rate_limit_storage_url says otherwise, rate-limit counters. Empty: per process.
    redis_url: str = ""

    # HTTP keep-alive: idle connections stay open this long. Well above the agent's flush
    # interval (5 s), so an agent never sends into a connection the server is closing.
    keep_alive_s: int = Field(default=75, gt=0)
    # The agent distribution served at /install.sh and /agent/ (`fleetmon agent-dist`).
    # Empty: <data_dir>/agent-dist.
    agent_dist_dir: Path | None = None

    # Ingest limits.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_decompressed_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    max_points: int = Field(default=50_000, gt=0)
    max_fields_per_point: int = Field(default=256, gt=0)
    max_tags_per_point: int = Field(default=64, gt=0)
    # At most 255: the metadata database keeps measurement and field names (field_types).
    max_key_length: int = Field(default=128, gt=0, le=255)
    max_tag_value_length: int = Field(default=256, gt=0)
    # The oldest accepted point: this, or what the raw tier keeps minus retention_margin_s,
    # whichever is less (validate.accepted_past_s).
    max_past_s: int = Field(default=7 * 86400, gt=0)
    retention_margin_s: int = Field(default=600, ge=0)
    max_future_s: int = Field(default=600, gt=0)
    # Per host, counted over a sliding window of one to two `cardinality_window_s`
    # (fleetmon_api.ingest.cardinality). A big server with the agent (128 cores, 64 disks
    # and interfaces, 100 sensors, procstat's top 100 + 100) has ~700 series, ~15
    # measurements and ~200 fields; Telegraf with many inputs a few thousand series.
    max_series_per_host: int = Field(default=20_000, gt=0)
    max_measurements_per_host: int = Field(default=500, gt=0)
    max_fields_per_host: int = Field(default=10_000, gt=0)
    cardinality_window_s: float = Field(default=3600.0, gt=0)
    idempotency_ttl_s: int = Field(default=86400, gt=0)
    idempotency_cache_size: int = Field(default=100_000, gt=0)
    # How long an accepted host key is trusted after its last confirmation (0: no cache).
    key_cache_ttl_s: float = Field(default=10.0, ge=0)
    # Every worker re-checks its cached keys against the database this often, which keeps
    # them cached under a live fleet and makes a revocation effective everywhere within it;
    # 0: no re-checks (entries then expire after key_cache_ttl_s).
    key_revalidate_s: float = Field(default=2.0, ge=0)

    # Base URL people reach this server at (links in test notifications); empty: the URL the
    # request came in on.
    public_url: str = ""

    # The alert worker renders notification previews; the API waits this long for its answer
    # (the leading worker answers within a fraction of a second), then says it got none.
    notification_preview_wait_s: float = Field(default=5.0, gt=0, le=30)

    # Host status from last seen.
    stale_after_s: int = Field(default=120, gt=0)
    down_after_s: int = Field(default=600, gt=0)
    presence_flush_s: float = Field(default=10.0, gt=0)
    # The fleet overview's store values are re-read in the background once older than
    # this (each worker keeps its own copy); 0 reads the store on every request.
    overview_cache_s: float = Field(default=5.0, ge=0)
    # ...and never served older than this (a failing store then answers 503).
    overview_max_age_s: float = Field(default=30.0, gt=0)

    # Background rollup + retention job, at least this often (also when a window closes); 0
    # disables it.
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
        if not self.rate_limit_storage_url:
            self.rate_limit_storage_url = self.redis_url or "memory://"
        if self.agent_dist_dir is None:
            self.agent_dist_dir = self.data_dir / "agent-dist"
        if self.secret_key is not None and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"secret_key: must be at least {MIN_SECRET_KEY_LENGTH} characters")
        return self

    def signing_key(self) -> str:
        """The JWT signing key; MissingSecretKey if none is configured."""
        if self.secret_key is None:
            raise MissingSecretKey
        return self.secret_key


# Read by the `fleetmon` CLI itself: the default of `serve --port` and `up --port`.
PORT_VARIABLE = "FLEETMON_PORT"


def known_variables() -> frozenset[str]:
    """Every FLEETMON_* variable the API server (and its CLI) reads."""
    fields = {f"{envcheck.PREFIX}{name.upper()}" for name in Settings.model_fields}
    return frozenset(fields | envcheck.SHARED | {PORT_VARIABLE})


def load(**overrides: Any) -> Settings:
    """Settings from the environment, refusing FLEETMON_* names that no setting reads.

    Raises envcheck.UnknownVariable or pydantic's ValidationError.
    """
    envcheck.check(os.environ, known_variables(), envcheck.unowned)
    return Settings(**overrides)
