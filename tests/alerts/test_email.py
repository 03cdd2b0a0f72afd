"""Email into a real local SMTP server (aiosmtpd) that requires STARTTLS and AUTH."""

from __future__ import annotations

import re
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from fleetmon_alerts.channels import ChannelContext, DeliveryError, build
from tests.alerts.helpers import sample_payload
from tests.support.servers import free_port


@dataclass
class Inbox:
    """What the SMTP server accepted, and whether the session was encrypted."""

    messages: list[tuple[bytes, list[str], bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.content, list(envelope.rcpt_tos), session.ssl is not None))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"pw")
    return AuthResult(success=ok)


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return crt, key


@pytest.fixture
def smtp(cert: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    """aiosmtpd on a free port: STARTTLS required, AUTH only over TLS."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*cert)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def test_email_over_starttls_with_login(smtp: tuple[Inbox, int], cert: tuple[Path, Path]) -> None:
    inbox, port = smtp
    config = {
        "host": "127.0.0.1",
        "port": port,
        "from": "fleetmon@example.test",
        "to": ["oncall@example.test"],
        "username": "alerts",
        "password": "pw",
        "ca_file": str(cert[0]),
    }
    channel = build("email", config, ChannelContext(timeout_s=5))
    channel.send(sample_payload())
    assert len(inbox.messages) == 1
    raw, rcpts, encrypted = inbox.messages[0]
    assert encrypted
    assert rcpts == ["oncall@example.test"]
    msg = message_from_bytes(raw)
    assert msg["Subject"] == "[FIRING] CPU usage high on web-1"
    body = msg.get_payload()
    assert isinstance(body, str)
    assert "http://fleetmon.test/hosts/web-1" in body
    assert "python3" in body


def test_email_refuses_an_unverified_certificate(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    config = {"host": "127.0.0.1", "port": port, "from": "a@example.test", "to": "b@example.test"}
    with pytest.raises(DeliveryError):
        build("email", config, ChannelContext(timeout_s=5)).send(sample_payload())
    assert inbox.messages == []


def test_email_wrong_password_is_refused(smtp: tuple[Inbox, int], cert: tuple[Path, Path]) -> None:
    inbox, port = smtp
    config = {
        "host": "127.0.0.1",
        "port": port,
        "from": "a@example.test",
        "to": "b@example.test",
        "username": "alerts",
        "password": "nope",
        "ca_file": str(cert[0]),
    }
    with pytest.raises(DeliveryError) as err:
        build("email", config, ChannelContext(timeout_s=5)).send(sample_payload())
    assert "nope" not in str(err.value)  # the password never reaches the outbox row
    assert inbox.messages == []


def test_email_subject_stays_one_encoded_header(
    smtp: tuple[Inbox, int], cert: tuple[Path, Path]
) -> None:
    """A rule or host text with CR/LF cannot add a header (Bcc) or end the headers early;
    non-ASCII is encoded as RFC 2047 words and reads back intact."""
    inbox, port = smtp
    config = {
        "host": "127.0.0.1",
        "port": port,
        "from": "fleetmon@example.test",
        "to": "oncall@example.test",
        "username": "alerts",
        "password": "pw",
        "ca_file": str(cert[0]),
    }
    channel = build("email", config, ChannelContext(timeout_s=5))
    channel.send(sample_payload(rule="Disque plein ☃\r\nBcc: thief@evil.test\r\n\r\nhi"))
    raw, rcpts, _ = inbox.messages[0]
    assert rcpts == ["oncall@example.test"]
    msg = message_from_bytes(raw, policy=default)
    assert msg["Bcc"] is None
    assert str(msg["Subject"]) == "[FIRING] Disque plein ☃ Bcc: thief@evil.test hi on web-1"
    raw_subject = re.search(rb"^Subject: (.*)$", raw, re.MULTILINE)
    assert raw_subject is not None
    assert b"=?utf-8?" in raw_subject[1]  # an encoded word: ASCII on the wire
    assert raw_subject[1].isascii()
