"""A local stand-in for a Slack incoming webhook that checks messages the way Slack does.

Slack's servers cannot be reached from here, so this receiver (tests/support/receiver.py
with a handler) answers like them: `200 ok`
(text/plain) for a message it would post, `400 invalid_payload` / `no_text` /
`invalid_blocks` for one it would refuse, `404 no_service` for an unknown webhook path. The
checks are Block Kit's published limits for the block types fleetmon sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.support.receiver import Received, Receiver, wait_until

WEBHOOK_PATH = "/services/T0FLEETMON/B0ALERTS/x7Kq2test"
TEXT_TYPES = {"plain_text", "mrkdwn"}


class Refused(Exception):
    """What Slack would answer instead of posting the message."""


def _text(obj: Any, where: str, limit: int, plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        raise Refused(f"invalid_blocks: {where} must be a text object")
    if plain_only and obj["type"] != "plain_text":
        raise Refused(f"invalid_blocks: {where} must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text or len(text) > limit:
        raise Refused(f"invalid_blocks: {where}.text must be 1..{limit} characters")


def check_message(doc: Any) -> None:
    """Raise Refused unless Slack would post this incoming-webhook body."""
    if not isinstance(doc, dict):
        raise Refused("invalid_payload")
    blocks = doc.get("blocks")
    if not doc.get("text") and not blocks:
        raise Refused("no_text")
    if blocks is None:
        return
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        raise Refused("invalid_blocks: 1..50 blocks")
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            _text(block.get("text"), f"{where}.text", 150, plain_only=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                raise Refused(f"invalid_blocks: {where} needs text or fields")
            if "text" in block:
                _text(block["text"], f"{where}.text", 3000)
            fields = block.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                raise Refused(f"invalid_blocks: {where}.fields: at most 10")
            for j, f in enumerate(fields):
                _text(f, f"{where}.fields[{j}]", 2000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                raise Refused(f"invalid_blocks: {where}.elements: 1..25")
            for j, el in enumerate(elements):
                if el.get("type") != "button":
                    raise Refused(f"invalid_blocks: {where}.elements[{j}] is not a button")
                _text(el.get("text"), f"{where}.elements[{j}].text", 75, plain_only=True)
                url = el.get("url", "")
                if urlsplit(url).scheme not in ("http", "https") or len(url) > 3000:
                    raise Refused(f"invalid_blocks: {where}.elements[{j}].url")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                raise Refused(f"invalid_blocks: {where}.elements: 1..10")
            for j, el in enumerate(elements):
                _text(el, f"{where}.elements[{j}]", 3000)
        elif kind != "divider":
            raise Refused(f"invalid_blocks: {where} has unknown type {kind!r}")


@dataclass
class SlackWebhook:
    """Accepts messages at WEBHOOK_PATH on a free loopback port; records what it posted."""

    receiver: Receiver = field(default_factory=Receiver)
    refused: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The webhook URL a person pastes into a channel."""
        return self.receiver.url + WEBHOOK_PATH

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message Slack would have posted."""
        return [r.json() for r in self.receiver.ok()]

    def _answer(self, got: Received) -> tuple[int, dict[str, str], bytes]:
        if got.path != WEBHOOK_PATH:
            return _text_answer(404, "no_service")
        try:
            if not (got.header("Content-Type") or "").startswith("application/json"):
                raise Refused("invalid_payload")
            try:
                doc = got.json()
            except ValueError:
                raise Refused("invalid_payload") from None
            check_message(doc)
        except Refused as exc:
            self.refused.append(str(exc))  # under the receiver's lock
            return _text_answer(400, str(exc).split(":")[0])
        return _text_answer(200, "ok")

    def start(self) -> SlackWebhook:
        """Listen in a thread."""
        self.receiver.handler = self._answer
        self.receiver.start()
        return self

    def stop(self) -> None:
        """Shut down."""
        self.receiver.stop()

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> dict[str, Any]:
        """The first posted message for which `predicate(message)` is true."""
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [m for m in self.messages if predicate(m)][:1]
            return bool(found)

        if not wait_until(seen, timeout, step=0.1):
            raise AssertionError(
                f"no such Slack message; got {self.messages}, refused {self.refused}"
            )
        return found[0]


def _text_answer(status: int, text: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode()
