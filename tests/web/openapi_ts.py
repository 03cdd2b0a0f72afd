"""TypeScript declarations for the web UI, generated from the API's OpenAPI document.

`python -m tests.web.openapi_ts` rewrites `web/js/types/api.d.ts`; `--check` fails when the
committed file differs from what the running code's schema gives. The UI's JavaScript is
type-checked against these declarations (`tsc --checkJs`, tests/web/tsconfig.json), so a
field the UI reads that the schema does not have is a type error, and so is a path, a query
parameter or a request body the API does not take.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "api-server" / "src" / "fleetmon_api" / "web" / "js" / "types" / "api.d.ts"
METHODS = ("get", "post", "put", "delete")
IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")

Schema = dict[str, Any]


def type_name(ref: str) -> str:
    """`#/components/schemas/Scope-Input` -> `Scope_Input`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", ref.rsplit("/", 1)[-1])


def _key(name: str) -> str:
    return name if IDENT.match(name) else json.dumps(name)


def ts(schema: Schema | bool, indent: str = "") -> str:
    """The TypeScript type of one JSON schema (the subset pydantic and FastAPI emit)."""
    if schema is True or schema == {}:
        return "unknown"
    if schema is False:
        return "never"
    assert isinstance(schema, dict)
    if "$ref" in schema:
        return type_name(schema["$ref"])
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            return " | ".join(dict.fromkeys(ts(s, indent) for s in schema[combo]))
    if "allOf" in schema:
        return " & ".join(ts(s, indent) for s in schema["allOf"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(ts({**schema, "type": k}, indent) for k in kind)
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        if "prefixItems" in schema:
            items = ", ".join(ts(s, indent) for s in schema["prefixItems"])
            return f"[{items}]"
        return f"Array<{ts(schema.get('items', {}), indent)}>"
    if kind == "object" or "properties" in schema:
        return _object(schema, indent)
    return "unknown"


def _object(schema: Schema, indent: str) -> str:
    props: dict[str, Schema] = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties")
    parts = []
    if props:
        inner = indent + "  "
        lines = []
        for name, sub in props.items():
            doc = sub.get("description") if isinstance(sub, dict) else None
            if doc:
                lines.append(f"{inner}/** {_comment(doc)} */")
            opt = "" if name in required else "?"
            lines.append(f"{inner}{_key(name)}{opt}: {ts(sub, inner)};")
        parts.append("{\n" + "\n".join(lines) + f"\n{indent}}}")
    if extra not in (None, False) or not props:
        value = ts(extra, indent) if isinstance(extra, dict) else "unknown"
        parts.append(f"{{ [key: string]: {value} }}")
    return " & ".join(parts)


def _comment(text: str) -> str:
    return " ".join(text.split()).replace("*/", "* /")


def _params(op: Schema, where: str) -> str:
    params = [p for p in op.get("parameters", []) if p.get("in") == where]
    if not params:
        return "never"
    lines = []
    for p in params:
        opt = "" if p.get("required") else "?"
        lines.append(f"        {_key(p['name'])}{opt}: {ts(p.get('schema', {}), '        ')};")
    return "{\n" + "\n".join(lines) + "\n      }"


def _body(op: Schema) -> str:
    content = op.get("requestBody", {}).get("content", {})
    for media in ("application/json", "application/x-www-form-urlencoded"):
        if media in content:
            return ts(content[media].get("schema", {}), "      ")
    return "never"


def _response(op: Schema) -> str:
    for code, answer in sorted(op.get("responses", {}).items()):
        if not code.startswith("2"):
            continue
        content = answer.get("content") or {}
        if "application/json" in content:
            return ts(content["application/json"].get("schema", {}), "      ")
        return "null"
    return "never"


def render(doc: Schema) -> str:
    """The whole declaration file for one OpenAPI document."""
    out = [
        "// Generated from the API's OpenAPI document by `python -m tests.web.openapi_ts`:",
        "// do not edit. The web UI is type-checked against it (tests/web).",
        "",
    ]
    for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items()):
        if schema.get("description"):
            out.append(f"/** {_comment(schema['description'])} */")
        out.append(f"export type {type_name(name)} = {ts(schema)};")
        out.append("")
    out.append("/** Every operation: path and query parameters, request body, success answer. */")
    out.append("export interface Paths {")
    for path, item in sorted(doc["paths"].items()):
        ops = [m for m in METHODS if m in item]
        if not ops:
            continue
        out.append(f"  {json.dumps(path)}: {{")
        for method in ops:
            op = item[method]
            out.append(f"    {method}: {{")
            out.append(f"      path: {_params(op, 'path')};")
            out.append(f"      query: {_params(op, 'query')};")
            out.append(f"      body: {_body(op)};")
            out.append(f"      response: {_response(op)};")
            out.append("    };")
        out.append("  };")
    out.append("}")
    out.append("")
    out.append(_HELPERS)
    return "\n".join(out)


_HELPERS = """\
export type Method = "get" | "post" | "put" | "delete";
/** The paths that answer `M`. */
export type PathWith<M extends Method> = {
  [P in keyof Paths]: M extends keyof Paths[P] ? P : never;
}[keyof Paths];
export type Operation<P extends keyof Paths, M extends Method> = M extends keyof Paths[P]
  ? Paths[P][M]
  : never;
/** What a successful call of `M P` answers. */
export type ResponseOf<P extends keyof Paths, M extends Method> = Operation<P, M> extends {
  response: infer R;
}
  ? R
  : never;
type Field<O, K extends string> = O extends { [k in K]: infer T } ? T : never;
/** Path and query parameters, body and abort signal of one call. */
export type RequestOf<P extends keyof Paths, M extends Method> = {
  path?: Field<Operation<P, M>, "path">;
  query?: Field<Operation<P, M>, "query">;
  body?: Field<Operation<P, M>, "body">;
  signal?: AbortSignal;
};
"""


def openapi() -> Schema:
    """The schema the API serves at /openapi.json, from the code as it is."""
    from fleetmon_api.app import create_app
    from fleetmon_api.settings import Settings

    with tempfile.TemporaryDirectory() as data:
        return create_app(Settings(data_dir=Path(data))).openapi()


def main(argv: list[str]) -> int:
    """Write the declarations; with --check, fail if the committed file differs."""
    text = render(openapi())
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"stale {OUT.relative_to(ROOT)} (run python -m tests.web.openapi_ts)")
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
