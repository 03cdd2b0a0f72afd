"""Email over SMTP with STARTTLS (or implicit TLS), via the standard library's smtplib."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from fleetmon_alerts import escape, humantime
from fleetmon_alerts.channels.base import (
    ChannelContext,
    ConfigError,
    DeliveryError,
    Payload,
    headline,
    require,
    value_text,
)
from fleetmon_db.text import printable


def message(payload: Payload, sender: str, recipients: list[str]) -> EmailMessage:
    """The email for one notification: text/plain only (no HTML to inject into); header
    values are one line, and the email package encodes non-ASCII ones (RFC 2047)."""
    msg = EmailMessage()
    msg["Subject"] = escape.header(headline(payload))
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    lines = [
        printable(headline(payload)),
        "",
        f"Severity: {printable(payload['severity'])}",
        f"Host:     {printable(payload['host'])}",
        f"{humantime.value_label(payload)}: {value_text(payload)}",
        f"{humantime.since_label(payload)}: {humantime.since_text(payload)}",
        f"Host page: {payload['host_url']}",
    ]
    summary = (payload.get("annotations") or {}).get("summary")
    if summary:
        lines += ["", printable(summary, keep_newlines=True)]
    procs = payload.get("top_processes") or {}
    for title, key in (("Top processes by CPU", "cpu"), ("Top processes by memory", "memory")):
        if procs.get(key):
            lines += ["", f"{title}:"]
            lines += [
                f"  {r['value']:6.1f}%  {printable(r['name'])} ({printable(r['pid'])})"
                for r in procs[key]
            ]
    msg.set_content("\n".join(lines) + "\n")
    return msg


class EmailChannel:
    """Sends one email per notification; a new SMTP session each time (alerts are rare)."""

    min_interval_s = 0.0

    def __init__(self, config: Mapping[str, Any], ctx: ChannelContext) -> None:
        self.host = require(config, "host")
        self.port = int(config.get("port", 587))
        self.sender = require(config, "from")
        to = config.get("to")
        recipients = [to] if isinstance(to, str) else list(to or [])
        if not recipients:
            raise ConfigError("channel config needs 'to' (one address or a list)")
        self.recipients = [str(r) for r in recipients]
        self.security = str(config.get("security", "starttls"))  # starttls | tls | none
        if self.security not in ("starttls", "tls", "none"):
            raise ConfigError("'security' must be starttls, tls or none")
        self.username = config.get("username")
        self.password = config.get("password")
        self.ca_file = config.get("ca_file")
        self.timeout = ctx.timeout_s

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def send(self, payload: Payload) -> None:
        """Connect, upgrade to TLS, log in if configured, send."""
        msg = message(payload, self.sender, self.recipients)
        try:
            smtp: smtplib.SMTP
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._tls()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                smtp.ehlo()
                if self.security == "starttls":
                    # Refuse to send credentials or alerts in clear when TLS was asked for.
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if self.username and self.password:
                    smtp.login(str(self.username), str(self.password))
                smtp.send_message(msg)
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError("server does not offer STARTTLS", permanent=True) from None
        except smtplib.SMTPAuthenticationError:
            raise DeliveryError("SMTP authentication failed", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP failed: {type(exc).__name__}") from None

    def close(self) -> None:
        """Nothing pooled."""


def create(config: Mapping[str, Any], ctx: ChannelContext) -> EmailChannel:
    """Build the channel."""
    return EmailChannel(config, ctx)
