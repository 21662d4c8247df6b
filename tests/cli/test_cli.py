"""The staff CLI through Typer's CliRunner: output shapes, exit codes, one-line errors."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iop_facilitator.cli.app import app

runner = CliRunner()


def iop(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def assert_one_line_error(result, exit_code: int = 1, match: str = "") -> str:
    assert result.exit_code == exit_code, result.output
    err = result.stderr.strip()
    assert "Traceback" not in result.output and "Traceback" not in err
    if exit_code == 1:
        assert err.count("\n") == 0, err
        assert err.startswith("iop: error: ")
    assert match in err, err
    assert result.stdout.strip() == ""
    return err


@pytest.fixture
def clinic_db(db_target: str) -> str:
    """A database (SQLite file or PostgreSQL URL) with staff, a group and two members."""
    assert iop("--db", db_target, "init").exit_code == 0
    assert iop("--db", db_target, "staff", "add", "Dana Quinn", "-c", "LCSW").exit_code == 0
    r = iop("--db", db_target, "group", "add", "Evening IOP", "--days", "mon,wed,thu", "--start", "18:00",
            "-f", "Dana Quinn", "--type", "psychoeducation")
    assert r.exit_code == 0, r.output
    for name, chart in (("Avery T.", "C-100"), ("Blake S.", "C-200")):
        r = iop("--db", db_target, "member", "add", name, "--chart-id", chart, "-g", "Sleep seven hours",
                "--group", "Evening IOP", "--start", "2026-11-01")
        assert r.exit_code == 0, r.output
    return db_target


def test_help_lists_the_command_groups() -> None:
    result = iop("--help")
    assert result.exit_code == 0
    for name in ("init", "demo", "seed", "group", "member", "staff", "meeting", "settings", "db"):
        assert name in result.stdout


def test_version() -> None:
    from iop_facilitator import __version__

    assert iop("--version").stdout.strip() == f"iop-facilitator {__version__}"


def test_init_creates_private_default_database_and_is_idempotent(iop_home: Path) -> None:
    first = iop("init")
    assert first.exit_code == 0, first.output
    path = iop_home / "data" / "iop.db"
    assert str(path) in first.stdout and "Created" in first.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    second = iop("init")
    assert second.exit_code == 0 and "up to date" in second.stdout


def test_iop_db_environment_variable(tmp_path: Path) -> None:
    target = tmp_path / "env.db"
    assert iop("init", env={"IOP_DB": str(target)}).exit_code == 0
    assert target.exists()


def test_group_and_member_lists_as_json(clinic_db: str) -> None:
    groups = json.loads(iop("--db", clinic_db, "group", "list", "--json").stdout)
    assert [g["name"] for g in groups] == ["Evening IOP"]
    g = groups[0]
    assert g["weekdays"] == ["mon", "wed", "thu"] and g["start_time"] == "18:00"
    assert g["group_type"] == "psychoeducation" and g["level_of_care"] == "IOP"
    assert g["facilitators"] == ["Dana Quinn"] and g["enrolled"] == 2
    people = json.loads(iop("--db", clinic_db, "member", "list", "--json").stdout)
    assert [p["display_name"] for p in people] == ["Avery T.", "Blake S."]
    assert people[0]["external_chart_id"] == "C-100" and people[0]["groups"] == ["Evening IOP"]
    assert people[0]["goals"] == ["Sleep seven hours"]
    staff = json.loads(iop("--db", clinic_db, "staff", "list", "--json").stdout)
    assert staff[0]["name"] == "Dana Quinn" and staff[0]["credentials"] == "LCSW"


def test_tables_render_user_text_literally(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    iop("--db", db, "init")
    assert iop("--db", db, "group", "add", "[bold red]Loud[/] \x1b]0;owned\x07group").exit_code == 0
    out = iop("--db", db, "group", "list", env={"COLUMNS": "250"}).stdout
    assert "[bold red]Loud[/] group" in out and "\x1b]0;" not in out and "\x07" not in out


def test_discharge_and_list(clinic_db: str) -> None:
    r = iop("--db", clinic_db, "member", "discharge", "C-100", "--reason", "completed", "--date", "2026-11-20")
    assert r.exit_code == 0, r.output
    assert "Discharged Avery T." in r.stdout
    active = json.loads(iop("--db", clinic_db, "member", "list", "--json").stdout)
    assert [p["display_name"] for p in active] == ["Blake S."]
    everyone = json.loads(iop("--db", clinic_db, "member", "list", "--all", "--json").stdout)
    assert {p["status"] for p in everyone} == {"active", "discharged"}


def test_meeting_list_filters(clinic_db: str) -> None:
    import datetime as dt

    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import groups, meetings

    database = open_database(clinic_db)
    with database.begin() as s:
        g = groups.resolve_group(s, "Evening IOP")
        for day in (dt.date(2026, 11, 2), dt.date(2026, 11, 4), dt.date(2026, 11, 9)):
            meetings.create_meeting(s, g, day)
    database.dispose()
    rows = json.loads(iop("--db", clinic_db, "meeting", "list", "--group", "Evening IOP", "--since", "2026-11-03", "--json").stdout)
    assert [r["local_date"] for r in rows] == ["2026-11-09", "2026-11-04"]
    assert rows[0]["group_name"] == "Evening IOP" and rows[0]["status"] == "draft"
    rows = json.loads(iop("--db", clinic_db, "meeting", "list", "--until", "2026-11-02", "--json").stdout)
    assert [r["local_date"] for r in rows] == ["2026-11-02"]
    table = iop("--db", clinic_db, "meeting", "list").stdout
    assert "2026-11-09" in table and "Evening IOP" in table


def test_unknown_group_is_one_line(clinic_db: str) -> None:
    assert_one_line_error(iop("--db", clinic_db, "member", "list", "--group", "Nope"), match="no group named")


def test_ambiguous_name_lists_candidates(clinic_db: str) -> None:
    iop("--db", clinic_db, "group", "add", "evening iop", "--days", "tue")
    err = assert_one_line_error(iop("--db", clinic_db, "member", "list", "--group", "EVENING IOP"), match="ambiguous")
    assert err.count("Evening IOP") + err.count("evening iop") == 2


def test_usage_errors_exit_2(clinic_db: str) -> None:
    assert iop("--db", clinic_db, "group", "add", "X", "--type", "karaoke").exit_code == 2
    assert iop("--db", clinic_db, "meeting", "list", "--since", "last tuesday").exit_code == 2
    assert iop("--db", clinic_db, "member", "discharge", "C-200").exit_code == 2  # --reason missing
    assert iop("--db", clinic_db, "nonsense").exit_code == 2


def test_domain_validation_is_exit_1(clinic_db: str) -> None:
    assert_one_line_error(iop("--db", clinic_db, "member", "add", "Jordan Miller"), match="last initial")
    assert_one_line_error(iop("--db", clinic_db, "group", "add", "Bad", "--days", "funday"), match="weekday")
    assert_one_line_error(iop("--db", clinic_db, "group", "add", "Bad", "--start", "25:00"), match="HH:MM")


def test_not_a_database_file(tmp_path: Path) -> None:
    target = tmp_path / "photo.jpg"
    target.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    assert_one_line_error(iop("--db", str(target), "group", "list"), match="not an iop-facilitator database")
    assert_one_line_error(iop("--db", str(target), "init"), match="not an iop-facilitator database")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_missing_database_is_not_created_by_list(tmp_path: Path) -> None:
    target = tmp_path / "typo.db"
    assert_one_line_error(iop("--db", str(target), "group", "list"), match="iop --db")
    assert not target.exists()


def test_newer_schema(tmp_path: Path) -> None:
    target = tmp_path / "new.db"
    iop("--db", str(target), "init")
    conn = sqlite3.connect(target)
    conn.execute("UPDATE alembic_version SET version_num='9999_later'")
    conn.commit()
    conn.close()
    assert_one_line_error(iop("--db", str(target), "group", "list"), match="newer than this program knows")


def test_unreachable_postgres_and_malformed_url() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert_one_line_error(
        iop("--db", f"postgresql+psycopg://iop@127.0.0.1:{port}/iop", "group", "list"), match="cannot reach"
    )
    assert_one_line_error(iop("--db", "postgresql+psycopg://", "group", "list"), match="host")
    assert_one_line_error(iop("--db", "mysql://x@y/z", "group", "list"), match="unsupported")


def test_url_password_is_never_printed() -> None:
    result = iop("--db", "postgresql+psycopg://iop:hunter2@127.0.0.1:1/iop", "group", "list")
    assert result.exit_code == 1 and "hunter2" not in result.output


def test_unexpected_errors_hide_details_unless_debug(clinic_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from iop_facilitator.services import groups

    def boom(*_a, **_k):
        raise RuntimeError("secret note text")

    monkeypatch.setattr(groups, "list_groups", boom)
    err = assert_one_line_error(iop("--db", clinic_db, "group", "list"), match="internal error (RuntimeError)")
    assert "secret" not in err
    monkeypatch.setenv("IOP_DEBUG", "1")
    with pytest.raises(RuntimeError):
        iop("--db", clinic_db, "group", "list")


def test_db_upgrade_check_backup(tmp_path: Path) -> None:
    target = tmp_path / "c.db"
    iop("--db", str(target), "init")
    assert "already at schema" in iop("--db", str(target), "db", "upgrade").stdout
    assert iop("--db", str(target), "db", "check").exit_code == 0
    copy = tmp_path / "copy.db"
    r = iop("--db", str(target), "db", "backup", str(copy))
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert_one_line_error(iop("--db", str(target), "db", "backup", str(copy)), match="--force")
    assert iop("--db", str(target), "db", "backup", str(copy), "--force").exit_code == 0
    assert_one_line_error(iop("--db", str(target), "db", "backup", str(tmp_path / "no" / "x.db")), match="does not exist")


def test_db_check_reports_corruption(tmp_path: Path) -> None:
    target = tmp_path / "c.db"
    iop("--db", str(target), "init")
    iop("--db", str(target), "group", "add", "G", "--days", "mon")
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("INSERT INTO group_facilitator (id, created_at, group_id, staff_id, is_lead) "
                 "VALUES ('00000000000040008000000000000001', '2026-01-01 00:00:00', 'ffffffffffffffffffffffffffffffff', "
                 "'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 1)")
    conn.commit()
    conn.close()
    r = iop("--db", str(target), "db", "check")
    assert r.exit_code == 1 and "foreign key" in r.stderr


def test_settings_show_and_set(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    iop("--db", db, "init")
    assert iop("--db", db, "settings", "set", "clinic_name", "Lakeside IOP").exit_code == 0
    assert iop("--db", db, "settings", "set", "max_absences", "4").exit_code == 0
    data = json.loads(iop("--db", db, "settings", "show", "--json").stdout)
    assert data["clinic_name"] == "Lakeside IOP" and data["max_absences"] == 4
    assert_one_line_error(iop("--db", db, "settings", "set", "timezone", "Nowhere/Land"), match="timezone")
    assert_one_line_error(iop("--db", db, "settings", "set", "service_codes", "{not json"), match="JSON")


def test_lazy_command_help_lines_match_their_modules() -> None:
    """``iop --help`` shows each group's help line from cli/lazy.py; it must say what the group says."""
    from iop_facilitator.cli.lazy import COMMANDS, load_command

    for name, entry in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert (command.help or "").strip().splitlines()[0] == entry.help, name


def test_root_help_lists_every_command_group() -> None:
    from iop_facilitator.cli.lazy import COMMANDS

    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name, entry in COMMANDS.items():
        assert f" {name} " in result.output and entry.help in result.output, name
