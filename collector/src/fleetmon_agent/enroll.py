"""Enrollment: trade a one-time token for this host's API key."""

from __future__ import annotations

import socket
from typing import Any

import requests

from fleetmon_agent.sender import USER_AGENT
from fleetmon_agent.state import read_state, write_state

ENROLL_PATH = "/api/v1/hosts/enroll"


class EnrollError(RuntimeError):
    """The server refused or failed the enrollment."""


def enroll(
    server: str,
    token: str,
    state_file: str,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    timeout: float = 10.0,
    verify: Any = True,
) -> dict[str, Any]:
    """POST the token, store the returned key in the state file; return host id and name."""
    body = {"token": token, "name": name or socket.gethostname(), "labels": labels or {}}
    url = server.rstrip("/") + ENROLL_PATH
    try:
        resp = requests.post(
            url, json=body, timeout=timeout, verify=verify, headers={"User-Agent": USER_AGENT}
        )
    except requests.RequestException as exc:
        raise EnrollError(f"cannot reach {url}: {type(exc).__name__}") from None
    if resp.status_code not in (200, 201):
        raise EnrollError(f"{url} answered HTTP {resp.status_code}: {resp.text[:300]}")
    try:
        doc = resp.json()
        key = str(doc["api_key"])
    except (ValueError, KeyError, TypeError):
        raise EnrollError(f"{url} answered without an api_key") from None
    state = read_state(state_file)
    state.update(
        {
            "server": server.rstrip("/"),
            "host_id": doc.get("host_id"),
            "host": doc.get("host", body["name"]),
            "api_key": key,
        }
    )
    write_state(state_file, state)
    return {"host_id": state["host_id"], "host": state["host"]}
