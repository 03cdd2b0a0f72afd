"""Keys out of log lines: InfluxDB 1.x clients send credentials in the URL (`?u=...&p=...`),
and uvicorn's access log writes every URL as received."""

from __future__ import annotations

import logging
import re

# Query parameters that carry a credential (InfluxDB 1.x `u`/`p`, and the usual names).
SECRET_PARAMS = ("p", "u", "password", "token", "api_key", "key")
_PARAM = re.compile(rf"(?<=[?&])({'|'.join(SECRET_PARAMS)})=[^&\s\"]*", re.IGNORECASE)
REDACTED = "***"
# uvicorn's loggers: the access log (every request line) and the error log (bad requests).
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")


def redact(text: str) -> str:
    """`text` with the value of every credential query parameter replaced by ***."""
    return _PARAM.sub(rf"\1={REDACTED}", text) if "=" in text else text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments with redact()."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record, redacted."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Add the filter to uvicorn's loggers once per process (each worker calls it)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
