"""The ``rules`` package imports only the Python standard library (house rules; style.md
dependency direction: rules -> standard library only)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"


def imported_top_level_modules(source: str) -> set[str]:
    """Top-level names of every module a source text imports (relative imports count as
    ``rules``, the package they live in)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("rules" if node.level else str(node.module).split(".")[0])
    return names


def foreign_imports(source: str) -> set[str]:
    """Imported top-level modules that are neither standard library nor ``rules``."""
    return {
        name for name in imported_top_level_modules(source)
        if name != "rules" and name not in sys.stdlib_module_names
    }


def rules_sources() -> list[Path]:
    return sorted(RULES_DIR.rglob("*.py"))


def test_every_rules_module_imports_only_the_standard_library() -> None:
    offenders = {
        str(path.relative_to(RULES_DIR)): sorted(found)
        for path in rules_sources()
        if (found := foreign_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_walk_sees_the_whole_package() -> None:
    found = {str(p.relative_to(RULES_DIR)) for p in rules_sources()}
    assert {"__init__.py", "evaluate.py", "types.py", "instruments/phq9.py"} <= found


def test_the_checker_catches_a_planted_third_party_import() -> None:
    planted = (
        "import flask\n"
        "from sqlalchemy.orm import Session\n"
        "import json, marshmallow.fields\n"
        "from . import types\n"
        "from rules.types import Flag\n"
        "def f():\n    import screening.storage.db\n"
    )
    assert foreign_imports(planted) == {"flask", "sqlalchemy", "marshmallow", "screening"}
