"""The layer rules of docs/ARCHITECTURE.md, checked: import-linter contracts and self-contained migrations.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); ``lint-imports`` runs
the same check from a shell. grimp reads every import, also the ones inside functions,
so a lazy import cannot hide a forbidden arrow or a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "iop_facilitator"
MIGRATIONS = PACKAGE / "db" / "migrations" / "versions"
# What a migration may import of ours: the exception it raises is the program's (the CLI and
# the app turn it into one line). Anything else would change an old migration when live code changes.
MIGRATION_MAY_IMPORT = {"iop_facilitator.errors"}


def test_the_import_contracts_are_kept(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports

    configuration.configure()
    monkeypatch.chdir(ROOT)
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    report = capsys.readouterr().out
    assert kept, report
    assert "BROKEN" not in report


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if node.module == "iop_facilitator"}
    return found


def test_migrations_import_nothing_live() -> None:
    """A migration holds frozen copies of what it computes: it must not change when live code does."""
    versions = sorted(MIGRATIONS.glob("*.py"))
    assert len(versions) >= 7
    offenders = {
        path.name: sorted(m for m in _imports(path) if m.split(".")[0] == "iop_facilitator" and m not in MIGRATION_MAY_IMPORT)
        for path in versions
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_migration_check_sees_a_live_import(tmp_path: Path) -> None:
    sample = tmp_path / "0099_sample.py"
    sample.write_text(
        "def upgrade():\n    from iop_facilitator.services import integrity\n    from iop_facilitator import audit_chain\n"
        "    from iop_facilitator.errors import DatabaseProblem\n",
        encoding="utf-8",
    )
    found = {m for m in _imports(sample) if m not in MIGRATION_MAY_IMPORT}
    assert {"iop_facilitator.services", "iop_facilitator.audit_chain"} <= found
