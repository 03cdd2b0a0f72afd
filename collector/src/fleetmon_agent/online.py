"""`check-config --online`: reachability, TLS, the API key and the clock, against the server."""

from __future__ import annotations

import json
from typing import Any, Callable

from fleetmon_agent.config import Config
from fleetmon_agent.drops import DropLedger
from fleetmon_agent.neterrors import describe
from fleetmon_agent.skew import server_time

CLOCK_WARN_S = 30.0  # the server's default rule warns from this offset on


def check_online(config: Config, api_key: str, say: Callable[[str], None] = print) -> int:
    """Print one line per check; 0 if the agent can deliver, 1 (naming the cause) if not."""
    import time

    import requests

    from fleetmon_agent.sender import HEALTH_PATH, Outcome, Sender
    from fleetmon_agent.spool import Batch, new_batch_id

    server = config.server
    verify: Any = server.ca_bundle or True
    if server.insecure:
        verify = False
    sender = Sender(server.url, api_key, server.timeout, verify)
    health = sender.base + HEALTH_PATH
    sent = time.time()
    try:
        resp = sender.session.get(health, timeout=server.timeout, proxies=sender.session.proxies)
    except requests.RequestException as exc:
        say(f"server: FAILED: {describe(exc, sender.base, server.timeout)}")
        return 1
    received = time.time()
    try:
        doc = json.loads(resp.content[:65536])
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "status" not in doc:
        say(
            f"server: FAILED: {health} answered HTTP {resp.status_code}, not fleetmon's health "
            "check: no fleetmon API at this URL (server.url is the server's base URL)"
        )
        return 1
    if resp.status_code == 200:
        say(f"server: OK ({sender.base} answers)")
    else:
        say(
            f"server: DEGRADED ({sender.base} answers, but its storage or database is "
            "unavailable: data waits in the spool until it is back)"
        )
    found = server_time(resp.headers)
    if found is None:
        say("clock: UNKNOWN (the server sent no time)")
    else:
        offset = found[0] - (sent + received) / 2.0
        if abs(offset) > CLOCK_WARN_S:
            say(
                f"clock: WARNING: this host's clock is {-offset:+.0f}s off the server's; the "
                "agent corrects the timestamps it sends, but fix the host's time sync"
            )
        else:
            say(f"clock: OK (within {max(abs(offset), 1.0):.0f}s of the server's)")
    if not api_key:
        say("api key: FAILED: not set (server.api_key, or run `fleetmon-agent enroll`)")
        return 1
    # An empty batch: the key is checked, nothing is stored.
    outcome, _, reason = sender.send(Batch(f"check-config-{new_batch_id()}", []), DropLedger())
    sender.close()
    if outcome == Outcome.ACK:
        say("api key: OK (accepted by the server)")
        return 0
    say(f"api key: FAILED: {reason}")
    return 1
