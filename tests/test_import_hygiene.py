"""The CLI must not pay for the TUI: Textual stays out of ``iop --help`` and the staff commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import json, sys
from iop_facilitator.cli import main

for args in json.loads(sys.argv[1]):
    sys.argv = ["iop"] + args
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    sys.stdout.flush()
    print("\n@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}), flush=True)
"""


def loaded_in_turn(commands: list[list[str]], env_home: Path) -> list[tuple[int, set[str]]]:
    """Run ``commands`` one after another in one fresh interpreter: (exit code, every module
    loaded so far) after each. What a later command finds loaded includes what the earlier ones
    imported, so "not loaded" after it holds for that command alone too."""
    import os

    env = dict(os.environ, IOP_HOME=str(env_home))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)], capture_output=True, text=True, env=env, timeout=120
    )
    reports = [json.loads(part.split("\n", 1)[0]) for part in result.stdout.split("\n@@")[1:]]
    assert len(reports) == len(commands), result.stdout + result.stderr
    return [(data["code"] or 0, set(data["modules"])) for data in reports]


def loaded(args: list[str], env_home: Path) -> tuple[int, set[str]]:
    return loaded_in_turn([args], env_home)[0]


def test_help_imports_neither_textual_nor_the_database(tmp_path: Path) -> None:
    code, modules = loaded(["--help"], tmp_path)
    assert code == 0
    assert "textual" not in modules
    assert "sqlalchemy" not in modules and "sqlmodel" not in modules and "alembic" not in modules
    # The command groups are imported when used, not to list them (cli/lazy.py).
    from iop_facilitator.cli.lazy import COMMANDS

    assert not {entry.module for entry in COMMANDS.values()} & modules


def test_a_command_imports_only_its_own_group(tmp_path: Path) -> None:
    code, modules = loaded(["export", "--help"], tmp_path)
    assert code == 0
    assert "iop_facilitator.cli.export" in modules
    assert "iop_facilitator.cli.meetings" not in modules and "iop_facilitator.cli.topics" not in modules


def test_staff_commands_do_not_import_textual(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    commands = [["--db", db, "init"], ["--db", db, "group", "list"], ["--db", db, "member", "list", "--json"],
                ["--db", db, "meeting", "list"], ["--db", db, "db", "check"], ["group", "--help"]]
    for args, (code, modules) in zip(commands, loaded_in_turn(commands, tmp_path), strict=True):
        assert code == 0, args
        assert not any(m == "textual" or m.startswith("textual.") for m in modules), args


def test_the_attendance_export_fast_path_imports_neither_sqlalchemy_nor_pendulum(tmp_path: Path) -> None:
    """A plain SQLite file at the newest schema is exported with ``sqlite3`` alone (benchmarks/bench_export.py)."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services.settings import update_settings

    db = tmp_path / "e.db"
    database = open_database(db, create=True)
    with database.begin() as session:
        update_settings(session, clinic_name="Harbor Light IOP (fictional)")  # the fast path needs the settings row
    database.dispose()
    out = tmp_path / "attendance.csv"
    code, modules = loaded(["--db", str(db), "export", "attendance", "--format", "csv", "--out", str(out),
                            "--quiet"], tmp_path)
    assert code == 0 and out.exists()
    heavy = {m.split(".")[0] for m in modules} & {"sqlalchemy", "sqlmodel", "alembic", "pendulum", "textual"}
    assert heavy == set()


def test_non_tui_modules_never_import_textual_at_module_level() -> None:
    """Nothing outside ``tui/`` may import Textual."""
    root = Path(__file__).resolve().parents[1] / "iop_facilitator"
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "tui":
            continue
        text = path.read_text(encoding="utf-8")
        if "import textual" in text or "from textual" in text:
            offenders.append(str(rel))
    assert offenders == []
