"""Dependencies point one way: web, ingest, callbacks -> services -> domain and
storage -> db. Checked on the import statements of every module (ast, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(*folders: str) -> dict[str, set[str]]:
    out = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            out[str(path.relative_to(ROOT))] = _imports(path)
    return out


def _offenders(modules: dict[str, set[str]], forbidden: tuple[str, ...]) -> list:
    return sorted(
        (name, target)
        for name, targets in modules.items()
        for target in targets
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    )


def test_the_app_never_imports_the_notebook_api():
    app_code = {
        name: targets
        for name, targets in _modules(
            "energy_dash", "ingest", "callbacks", "components", "pages"
        ).items()
        if not name.startswith("energy_dash/data/")
    }
    assert _offenders(app_code, ("energy_dash.data",)) == []


def test_domain_is_pure():
    assert _offenders(
        _modules("energy_dash/domain"),
        ("sqlalchemy", "flask", "dash", "energy_dash.db", "energy_dash.storage",
         "energy_dash.services", "energy_dash.web", "energy_dash.data", "requests"),
    ) == []


def test_storage_and_db_do_not_reach_up():
    up = ("energy_dash.services", "energy_dash.web", "energy_dash.data", "ingest",
          "callbacks", "components", "flask")
    assert _offenders(_modules("energy_dash/storage", "energy_dash/db"), up) == []


def test_pages_components_and_callbacks_never_use_sqlalchemy():
    assert _offenders(
        _modules("pages", "components", "callbacks"),
        ("sqlalchemy", "energy_dash.db.models", "energy_dash.storage.readings"),
    ) == []
