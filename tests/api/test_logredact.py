"""The access-log filter: credential query parameters become ***, nothing else changes."""

from __future__ import annotations

import logging

from fleetmon_api.logredact import RedactSecrets, redact

KEY = "fm_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_credential_parameters_are_redacted_and_others_kept() -> None:
    path = f"/write?db=telegraf&precision=s&u=telegraf&p={KEY}&rp=autogen"
    assert redact(path) == "/write?db=telegraf&precision=s&u=***&p=***&rp=autogen"
    assert redact(f"/query?P={KEY}&q=SHOW+DATABASES") == "/query?P=***&q=SHOW+DATABASES"
    assert redact(f"/x?token={KEY}&api_key={KEY}") == "/x?token=***&api_key=***"
    assert redact("/api/v1/metrics/history?host=web-1&metric=cpu.usage_user") == (
        "/api/v1/metrics/history?host=web-1&metric=cpu.usage_user"
    )


def test_the_filter_rewrites_uvicorns_access_record() -> None:
    # uvicorn.access logs '%s - "%s %s HTTP/%s" %d' with the path and query as one argument.
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/write?db=x&p={KEY}", "1.1", 204), None,
    )  # fmt: skip
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "POST /write?db=x&p=*** HTTP/1.1" 204'
