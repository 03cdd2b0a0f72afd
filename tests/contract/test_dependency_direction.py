"""The dependency direction of DESIGN.md, checked statically over the source files:
fleetmon_api -> fleetmon_db <- fleetmon_alerts, and the agent imports no server package.

Parsed with `ast` (nothing is imported or run), so the check is fast and sees imports inside
functions and `TYPE_CHECKING` blocks too.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Package -> (its source directory, the fleetmon packages it must never import).
FORBIDDEN: dict[str, tuple[Path, frozenset[str]]] = {
    "fleetmon_api": (ROOT / "api-server/src/fleetmon_api", frozenset({"fleetmon_alerts"})),
    "fleetmon_alerts": (ROOT / "alert-manager/src/fleetmon_alerts", frozenset({"fleetmon_api"})),
    "fleetmon_db": (
        ROOT / "database/src/fleetmon_db",
        frozenset({"fleetmon_api", "fleetmon_alerts"}),
    ),
    "fleetmon_agent": (
        ROOT / "collector/src/fleetmon_agent",
        frozenset({"fleetmon_api", "fleetmon_alerts", "fleetmon_db"}),
    ),
}


def imported_packages(source: str, filename: str = "<source>") -> set[str]:
    """Top-level names of every absolute import in `source`."""
    found: set[str] = set()
    nodes = list(ast.walk(ast.parse(source, filename)))
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    # importlib.import_module("x.y") with a literal name is an import too.
    for node in nodes:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value.split(".")[0])
    return found


def violations(package: str) -> list[str]:
    """`file: imports X` for every forbidden import in `package`'s source files."""
    src, forbidden = FORBIDDEN[package]
    files = sorted(src.rglob("*.py"))
    assert files, f"no source files under {src}"
    return [
        f"{path.relative_to(ROOT)}: imports {name}"
        for path in files
        for name in sorted(imported_packages(path.read_text(), str(path)) & forbidden)
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_against_the_direction(package: str) -> None:
    assert violations(package) == []


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import fleetmon_alerts.preview\n"
        "from fleetmon_alerts import outbox\n"
        "def f():\n"
        "    from fleetmon_alerts.payload import build\n"
        "import importlib\n"
        "importlib.import_module('fleetmon_alerts.worker')\n"
        "from . import sibling\n"
    )
    assert imported_packages(source) == {"fleetmon_alerts", "importlib"}
    assert imported_packages("from fleetmon_db.models import Host") == {"fleetmon_db"}


def test_the_api_distribution_does_not_depend_on_the_worker() -> None:
    project = tomllib.loads((ROOT / "api-server/pyproject.toml").read_text())["project"]
    names = {dep.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip().lower()
             for dep in project["dependencies"]}  # fmt: skip
    assert "fleetmon-db" in names
    assert "fleetmon-alerts" not in names
