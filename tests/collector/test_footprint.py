"""What the running agent loads and keeps: the guards behind its memory and CPU figures."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fleetmon_agent.spool import new_batch_id
from tests.support.receiver import Receiver

EXAMPLE = Path(__file__).resolve().parents[2] / "collector" / "agent.example.yaml"

# What `fleetmon-agent run` imports before its first collection (cli.cmd_run's order).
RUN_IMPORTS = f"""
import json, sys, warnings
warnings.simplefilter("error")
from fleetmon_agent import cli
from fleetmon_agent.config import load
config = load({str(EXAMPLE)!r})
from fleetmon_agent.lean import import_requests
import_requests(tls=sys.argv[1] == "https")
import fleetmon_agent.agent, fleetmon_agent.limits
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_run_leaves_out_modules_the_agent_never_uses(scheme: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", RUN_IMPORTS, scheme], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert {"requests", "schedule", "yaml", "hashlib"} <= loaded
    # ~3 MB (character-set detection), ~0.8 MB (dataclasses pulls in inspect, ast, dis),
    # ~0.7 MB (http.server: only for the exporter), uuid (pulls in platform); difflib only
    # names the closest setting in a config error; the example config only for its command.
    unused = {
        "charset_normalizer",
        "chardet",
        "dataclasses",
        "http.server",
        "uuid",
        "difflib",
        "fleetmon_agent.exporter",
        "fleetmon_agent.example",
    }
    assert not unused & loaded
    # OpenSSL (~5 MB) only when the server speaks TLS.
    tls = {"ssl", "_ssl", "_hashlib"}
    assert tls <= loaded if scheme == "https" else not tls & loaded


SEND_WITHOUT_DETECTOR = """
import sys
from fleetmon_agent.lean import import_requests
import_requests(tls=False)
from fleetmon_agent.sender import Sender
from fleetmon_agent.spool import Batch
from fleetmon_agent.drops import DropLedger
outcome, _, reason = Sender(sys.argv[1], "k").send(Batch("b", [{"x": 1}]), DropLedger())
assert "charset_normalizer" not in sys.modules and "ssl" not in sys.modules
print(outcome, reason)
"""


def test_sender_speaks_plain_http_without_a_charset_detector_or_tls(receiver: Receiver) -> None:
    receiver.responder = lambda n, body: (422, {})
    out = subprocess.run(
        [sys.executable, "-c", SEND_WITHOUT_DETECTOR, receiver.url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == 'reject HTTP 422: {"detail": "status 422"}'


def test_batch_ids_are_random_uuid4() -> None:
    ids = {new_batch_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        u = uuid.UUID(text)
        assert (str(u), u.version, u.variant) == (text, 4, uuid.RFC_4122)
