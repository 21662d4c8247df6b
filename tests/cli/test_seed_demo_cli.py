"""``iop seed`` and ``iop demo`` from the command line (the TUI itself is replaced by a recorder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iop_facilitator.cli.app import app

runner = CliRunner()


def iop(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def tui_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    import iop_facilitator.tui.app as tui_app

    calls: list[tuple[str, dict]] = []

    def fake_run(target: str, **kwargs) -> int:
        calls.append((target, kwargs))
        return 0

    monkeypatch.setattr(tui_app, "run", fake_run)
    return calls


def test_seed_fills_a_fresh_database(db_target: str) -> None:
    result = iop("--db", db_target, "seed", "--groups", "2", "--weeks", "2", "--members-per-group", "5",
                 "--seed", "3", "--end", "2026-11-20", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Seeded a fictional clinic" in result.stdout and "2 groups" in result.stdout
    groups = json.loads(iop("--db", db_target, "group", "list", "--json").stdout)
    assert len(groups) == 2
    meetings = json.loads(iop("--db", db_target, "meeting", "list", "--json").stdout)
    assert meetings and all(m["status"] == "signed" for m in meetings)
    assert all(m["local_date"] <= "2026-11-20" for m in meetings)
    settings = json.loads(iop("--db", db_target, "settings", "show", "--json").stdout)
    assert settings["is_demo"] is True and "fictional" in settings["clinic_name"].lower()


def test_seed_refuses_real_data(tmp_path: Path) -> None:
    db = str(tmp_path / "real.db")
    iop("--db", db, "init")
    iop("--db", db, "member", "add", "Real P.")
    result = iop("--db", db, "seed", "--groups", "1", "--weeks", "1", "--quiet")
    assert result.exit_code == 1
    assert result.stderr.startswith("iop: error: ") and result.stderr.count("\n") == 1
    assert len(json.loads(iop("--db", db, "group", "list", "--json").stdout)) == 0


def test_seed_rejects_bad_numbers(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    assert iop("--db", db, "seed", "--groups", "0").exit_code == 2
    assert iop("--db", db, "seed", "--end", "someday").exit_code == 2


def test_demo_uses_its_own_database_and_never_the_real_one(iop_home: Path, tmp_path: Path, tui_calls) -> None:
    real = tmp_path / "real.db"
    iop("--db", str(real), "init")
    before = real.read_bytes()
    result = iop("--db", str(real), "demo")
    assert result.exit_code == 0, result.output
    demo_path = iop_home / "data" / "demo.db"
    assert tui_calls == [(str(demo_path), {"demo": True, "create": False})]
    assert real.read_bytes() == before
    groups = json.loads(iop("--db", str(demo_path), "group", "list", "--json").stdout)
    assert len(groups) >= 3
    # Second start reuses the demo clinic instead of rebuilding it.
    size = demo_path.stat().st_size
    assert iop("demo").exit_code == 0 and "Building" not in iop("demo").stdout
    assert demo_path.stat().st_size >= size


def test_no_subcommand_opens_the_app_on_the_chosen_database(tmp_path: Path, tui_calls) -> None:
    target = str(tmp_path / "mine.db")
    assert iop("--db", target).exit_code == 0
    assert tui_calls == [(target, {"demo": False})]  # never "create": the app does not make clinics


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, IOP_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "iop_facilitator", "--version"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.startswith("iop-facilitator ")


def test_opening_the_app_skips_typer(monkeypatch: pytest.MonkeyPatch, iop_home: Path) -> None:
    from iop_facilitator.cli import tui_fast_path

    monkeypatch.delenv("IOP_DB", raising=False)
    assert tui_fast_path([]) == str(iop_home / "data" / "iop.db")
    assert tui_fast_path(["--db", "x.db"]) == "x.db"
    assert tui_fast_path(["--db=postgresql+psycopg://h/db"]) == "postgresql+psycopg://h/db"
    monkeypatch.setenv("IOP_DB", "env.db")
    assert tui_fast_path([]) == "env.db"
    for args in (["--help"], ["group", "list"], ["--db", "x.db", "init"], ["--db="], ["--version"]):
        assert tui_fast_path(args) is None


def test_iop_demo_opens_a_built_demo_clinic_without_typer(iop_home: Path) -> None:
    from iop_facilitator.cli import demo_fast_path

    demo_path = iop_home / "data" / "demo.db"
    assert demo_fast_path(["demo"]) is None  # not built yet: Typer's command builds it first
    demo_path.parent.mkdir(parents=True, exist_ok=True)
    demo_path.write_bytes(b"")
    assert demo_fast_path(["demo"]) is None  # an empty file is rebuilt too
    demo_path.write_bytes(b"SQLite format 3\0")
    assert demo_fast_path(["demo"]) == str(demo_path)
    for args in (["demo", "--reset"], ["--db", "x.db", "demo"], ["demo", "--help"], []):
        assert demo_fast_path(args) is None


def _ending(code: str, tmp_path: Path):
    import os
    import subprocess
    import sys

    script = tmp_path / "end.py"
    script.write_text(code)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=dict(os.environ),
                          timeout=60)


def test_end_process_runs_atexit_flushes_and_keeps_the_exit_code(tmp_path: Path) -> None:
    out = _ending(
        "import atexit, sys\n"
        "from iop_facilitator.cli import end_process\n"
        "atexit.register(lambda: open(sys.argv[0] + '.ran', 'w').write('ran'))\n"
        "print('buffered line', end='')\n"
        "sys.stderr.write('said on stderr')\n"
        "end_process(3)\n"
        "print('never')\n",
        tmp_path,
    )
    assert out.returncode == 3
    assert out.stdout == "buffered line" and out.stderr == "said on stderr"
    assert (tmp_path / "end.py.ran").read_text() == "ran"


def test_end_process_waits_for_a_running_non_daemon_thread(tmp_path: Path) -> None:
    out = _ending(
        "import threading, sys\n"
        "from iop_facilitator.cli import end_process\n"
        "go = threading.Event()\n"
        "def work():\n"
        "    go.wait(30)\n"
        "    open(sys.argv[0] + '.done', 'w').write('done')\n"
        "t = threading.Thread(target=work)\n"
        "t.start()\n"
        "threading.Timer(0.2, go.set).start()\n"
        "end_process(4)\n",
        tmp_path,
    )
    assert out.returncode == 4
    assert (tmp_path / "end.py.done").read_text() == "done"
