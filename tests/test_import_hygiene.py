"""The CLI must not pay for the TUI: Textual stays out of ``iop --help`` and the staff commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import json, sys
sys.argv = ["iop"] + json.loads(sys.argv[1])
try:
    from iop_facilitator.cli import main
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
print("\n@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(args: list[str], env_home: Path) -> tuple[int, set[str]]:
    import os

    env = dict(os.environ, IOP_HOME=str(env_home))
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=env, timeout=120
    ).stdout
    data = json.loads(out.rsplit("\n@@", 1)[1])
    return data["code"] or 0, set(data["modules"])


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
    for args in (["--db", db, "init"], ["--db", db, "group", "list"], ["--db", db, "member", "list", "--json"],
                 ["--db", db, "meeting", "list"], ["--db", db, "db", "check"], ["group", "--help"]):
        code, modules = loaded(args, tmp_path)
        assert code == 0, args
        assert not any(m == "textual" or m.startswith("textual.") for m in modules), args


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
