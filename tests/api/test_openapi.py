"""The published OpenAPI document is self-consistent: every reference resolves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleetmon_api.app import create_app
from fleetmon_api.settings import Settings


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_schema_reference_resolves(tmp_path: Path) -> None:
    doc = create_app(Settings(data_dir=tmp_path)).openapi()
    components = doc.get("components", {}).get("schemas", {})
    refs = _refs(doc)
    assert refs, "expected component references in the schema"
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in components, ref
    body = doc["paths"]["/api/v1/metrics/collect"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert "$defs" not in json.dumps(schema)  # inlined, not referenced
    assert schema["properties"]["points"]["items"]["required"] == ["measurement", "time", "fields"]
