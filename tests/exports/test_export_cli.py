"""``iop export attendance`` and ``iop report`` through Typer's CliRunner (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iop_facilitator.cli.app import app
from tests.exports import attendance_clinic

runner = CliRunner()
GOLDEN = Path(__file__).parent / "golden" / "attendance"


def iop(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_line_error(result, match: str) -> str:
    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("iop: error: ") and "Traceback" not in result.output
    assert match in err, err
    return err


@pytest.fixture
def clinic_target(db_target: str, prebuilt):
    from iop_facilitator.db.engine import open_database

    database = open_database(db_target, create=True)
    try:
        clinic = prebuilt(database, "attendance_clinic", attendance_clinic.build)
    finally:
        database.dispose()
    return db_target, clinic


def test_export_csv_matches_golden(clinic_target, tmp_path: Path) -> None:
    target, _ = clinic_target
    out = tmp_path / "billing.csv"
    result = iop("--db", target, "export", "attendance", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote 7 attendance rows to {out.resolve()} (0600)\n"
    for name in attendance_clinic.NAMES:
        assert name not in result.output
    assert out.read_bytes() == (GOLDEN / "attendance.csv").read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_export_json_filters(clinic_target, tmp_path: Path) -> None:
    target, clinic = clinic_target
    out = tmp_path / "jordan.json"
    result = iop(
        "--db", target, "export", "attendance", "--format", "json", "--out", str(out),
        "--member", "MRN-1042", "--include-unsigned", "--since", "2026-03-06",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert [(r["date"], r["service_codes"], r["signed"]) for r in doc["rows"]] == [
        ("2026-03-09", ["H0015-HQ"], True),
        ("2026-03-11", ["90853"], False),
    ]
    assert doc["filters"] == {"since": "2026-03-06", "member": clinic.jordan, "include_unsigned": True}
    out2 = tmp_path / "tele.json"
    assert iop("--db", target, "export", "attendance", "-f", "json", "-o", str(out2), "--group", "=Tele IOP").exit_code == 0
    assert [r["member"] for r in json.loads(out2.read_text())["rows"]] == ["Zo\u00eb W."]


def test_export_refusals(clinic_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, _ = clinic_target
    out = tmp_path / "a.csv"
    out.write_text("keep")
    one_line_error(iop("--db", target, "export", "attendance", "--out", str(out)), "file exists")
    assert out.read_text() == "keep"
    assert iop("--db", target, "export", "attendance", "--out", str(out), "--force").exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    one_line_error(iop("--db", target, "export", "attendance", "--out", str(tmp_path / "no" / "a.csv")), "directory does not exist")
    one_line_error(iop("--db", target, "export", "attendance", "--out", str(tmp_path)), "is a directory")
    one_line_error(iop("--db", target, "export", "attendance", "--out", str(tmp_path / "a.csv" / "x.csv")), "not a directory")
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == locked else real(p, m))
    one_line_error(iop("--db", target, "export", "attendance", "--out", str(locked / "a.csv")), "cannot write to directory")
    one_line_error(iop("--db", target, "export", "attendance", "--out", str(tmp_path / "b.csv"), "--member", "Nobody Z."), "no member")
    bad = iop("--db", target, "export", "attendance", "--out", str(tmp_path / "b.csv"), "--since", "2026-04-01", "--until", "2026-03-01")
    assert bad.exit_code == 2
    assert not (tmp_path / "b.csv").exists() and not list(tmp_path.glob(".*.tmp"))


def test_audit_entries_from_the_cli(clinic_target, tmp_path: Path) -> None:
    target, _ = clinic_target
    for fmt in ("csv", "json"):
        assert iop("--db", target, "export", "attendance", "-f", fmt, "-o", str(tmp_path / f"x.{fmt}")).exit_code == 0
    from iop_facilitator.db.engine import open_database

    database = open_database(target)
    try:
        from sqlmodel import select

        from iop_facilitator.models import AuditEvent

        with database.session() as s:
            events = s.exec(select(AuditEvent).where(AuditEvent.action == "export.attendance")).all()
    finally:
        database.dispose()
    assert sorted(e.details["format"] for e in events) == ["csv", "json"]
    assert all(e.details["records"] == 7 and e.actor == "test-runner" for e in events)


def test_report_hours(clinic_target) -> None:
    target, _ = clinic_target
    result = iop("--db", target, "report", "hours", "--week", "2026-W11", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = {m["member"]: m for m in doc["members"]}
    assert rows["Jordan M."]["short_hours"] == 4.5 and rows["Jordan M."]["minutes_by_day"]["2026-03-11"] == 90
    assert rows["=HYPERLINK(1)"]["short_days"] == ["2026-03-09"]
    assert doc["thresholds"] == {"weekly_hours_adult": 9.0, "weekly_hours_adolescent": 6.0, "per_diem_daily_hours": 3.0}
    table = iop("--db", target, "report", "hours", "--week", "2026-W11", "--group", "Aftercare OP")
    assert table.exit_code == 0 and "Jordan M." in table.stdout and "Ana R." not in table.stdout
    assert "1 of 1 members fall short" in table.stdout
    one_line_error(iop("--db", target, "report", "hours", "--week", "2026-11"), "not an ISO week")


def test_report_attendance(clinic_target) -> None:
    target, clinic = clinic_target
    result = iop("--db", target, "report", "attendance", "--since", "2026-03-01", "--until", "2026-03-31", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["past_policy"] == [clinic.ana]
    assert doc["policy"] == {"max_absences": 1, "absence_window_weeks": 12}
    table = iop("--db", target, "report", "attendance", "--since", "2026-03-01", "--until", "2026-03-31")
    assert table.exit_code == 0
    assert "past" in table.stdout and "Ana R." in table.stdout and "1 members past the absence policy" in table.stdout
