"""The attendance export: service-code rule, local times, golden files on SQLite and PostgreSQL.

Golden files live in tests/exports/golden/attendance/. Both read paths (the
SQLite fast path and the SQLAlchemy path) and both back ends must give the same
bytes. To regenerate the files after an intended change:

    IOP_REGEN_GOLDEN=1 python -m pytest -q tests/exports/test_attendance_export.py
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import stat
import uuid
from pathlib import Path

import pytest

from iop_facilitator.db.raw import plain_file
from iop_facilitator.exports.attendance import AttendanceFilter, export_database, export_sqlite
from iop_facilitator.models import DEFAULT_SERVICE_CODES
from iop_facilitator.services.billing import codes_table, per_diem_code, service_codes
from iop_facilitator.timefmt import LocalClock
from tests.exports import attendance_clinic

GOLDEN = Path(__file__).parent / "golden" / "attendance"
REGEN = os.environ.get("IOP_REGEN_GOLDEN", "").strip() not in ("", "0")


def golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"missing golden file {path}; run with IOP_REGEN_GOLDEN=1"
    assert data.decode("utf-8") == path.read_bytes().decode("utf-8")


# --------------------------------------------------------------------------- the service-code rule


CODES = dict(DEFAULT_SERVICE_CODES)


@pytest.mark.parametrize(
    ("level", "modality", "attended", "expected"),
    [
        ("IOP", "in_person", True, ("H0015-HQ",)),
        ("IOP", "telehealth", True, ("H0015-HQ-95",)),
        ("OP", "in_person", True, ("90853",)),
        ("OP", "telehealth", True, ("90853-95",)),
        ("PHP", "in_person", True, ("90853",)),  # no php_per_diem configured
        ("IOP", "in_person", False, ()),
        ("OP", "telehealth", False, ()),
    ],
)
def test_service_codes_defaults(level: str, modality: str, attended: bool, expected: tuple[str, ...]) -> None:
    assert service_codes(CODES, level_of_care=level, modality=modality, attended=attended) == expected


def test_service_codes_configuration() -> None:
    mh = {**CODES, "iop_per_diem": "S9480"}
    assert service_codes(mh, level_of_care="IOP", modality="in_person", attended=True) == ("S9480-HQ",)
    no_sud = {k: v for k, v in CODES.items() if k != "sud_iop_per_diem"}
    assert per_diem_code(no_sud) == "S9480"
    plain = {**CODES, "group_modifier": "", "telehealth_modifier": "GT"}
    assert service_codes(plain, level_of_care="IOP", modality="telehealth", attended=True) == ("H0015-GT",)
    php = {**CODES, "php_per_diem": "H0035"}
    assert service_codes(php, level_of_care="PHP", modality="in_person", attended=True) == ("H0035-HQ",)
    nothing = {"telehealth_modifier": "95"}
    assert service_codes(nothing, level_of_care="IOP", modality="telehealth", attended=True) == ()
    only_group = {"group_psychotherapy": "90853"}
    assert service_codes(only_group, level_of_care="IOP", modality="in_person", attended=True) == ("90853",)
    assert codes_table(CODES)[("IOP", "telehealth")] == "H0015-HQ-95"


# --------------------------------------------------------------------------- local times


def test_local_clock_across_dst() -> None:
    clock = LocalClock("America/New_York")
    assert clock.hhmm("2026-03-05 22:55:00.000000") == "17:55"  # EST
    assert clock.hhmm("2026-03-09 21:58:00.000000") == "17:58"  # EDT
    assert clock.hhmm(dt.datetime(2026, 3, 9, 21, 58, tzinfo=dt.UTC)) == "17:58"
    assert clock.hhmm("2026-03-08 06:30:00.000000") == "01:30"  # an hour before the switch at 07:00 UTC
    assert clock.hhmm("2026-03-08 07:30:00.000000") == "03:30"
    assert clock.hhmm(None) == ""
    transitions = clock.transitions(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert transitions == [
        ("", -300),
        ("2026-03-08 07:00:00.000000", -240),
        ("2026-11-01 06:00:00.000000", -300),
    ]
    assert LocalClock("UTC").transitions(dt.date(2026, 1, 1), dt.date(2026, 12, 31)) == [("", 0)]
    india = LocalClock("Asia/Kolkata")
    assert india.hhmm("2026-03-05 04:00:00.000000") == "09:30"


# --------------------------------------------------------------------------- golden files, both paths, both back ends


@pytest.fixture
def clinic(db, prebuilt):
    return prebuilt(db, "attendance_clinic", attendance_clinic.build)


def paths(db) -> list[str]:
    return ["general", "fast"] if db.backend == "sqlite" else ["general"]


def run_export(db, how: str, out: Path, **kwargs):
    if how == "fast":
        result = export_sqlite(Path(db.url.database), out, now=attendance_clinic.NOW, **kwargs)
        assert result is not None and result.fast
        return result
    return export_database(db, out, now=attendance_clinic.NOW, **kwargs)


@pytest.mark.parametrize(
    ("name", "fmt", "flt"),
    [
        ("attendance.csv", "csv", AttendanceFilter()),
        ("attendance-all.csv", "csv", AttendanceFilter(include_unsigned=True)),
        ("attendance-week11.csv", "csv", AttendanceFilter(since=dt.date(2026, 3, 9), until=dt.date(2026, 3, 15))),
        ("attendance.json", "json", AttendanceFilter()),
        ("attendance-all.json", "json", AttendanceFilter(include_unsigned=True)),
    ],
)
def test_golden(db, clinic, tmp_path: Path, name: str, fmt: str, flt: AttendanceFilter) -> None:
    for how in paths(db):
        out = tmp_path / f"{how}-{name}"
        result = run_export(db, how, out, fmt=fmt, flt=flt, force=False)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        golden(name, out.read_bytes())
        data = out.read_bytes()
        if fmt == "csv":
            assert data.startswith(b"\xef\xbb\xbf\"Notice: 42 CFR part 2")
            assert result.records == data.count(b"\r\n") - 2
        else:
            doc = json.loads(data)
            assert doc["disclosure_notice"].startswith("42 CFR part 2")
            assert doc["count"] == len(doc["rows"]) == result.records


def test_csv_content(db, clinic, tmp_path: Path) -> None:
    import csv

    out = tmp_path / "a.csv"
    export_database(db, out, fmt="csv", flt=AttendanceFilter(include_unsigned=True), force=False)
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][0].startswith("Notice: ") and len(rows[0]) == len(rows[1]) == 13
    header, data = rows[1], rows[2:]
    by = [dict(zip(header, r, strict=True)) for r in data]
    # Formula injection: every cell a spreadsheet would run starts with a quote.
    for row in by:
        for value in row.values():
            assert not value or value[0] not in "=+-@\t\r", row
    hyper = [r for r in by if r["member"] == "'=HYPERLINK(1)"]
    assert [r["chart_id"] for r in hyper] == ["'+1-555", "'+1-555"]
    tele = next(r for r in by if r["modality"] == "telehealth")
    assert tele["group"] == "'=Tele IOP" and tele["facilitator"] == "'@Lee Park" and tele["credentials"] == "'-CADC"
    assert tele["service_codes"] == "H0015-HQ-95" and tele["chart_id"] == ""
    # Local times on both sides of the DST switch; absences have no times and no code.
    jordan = [r for r in by if r["member"] == "Jordan M."]
    assert [(r["date"], r["arrived"], r["left"], r["minutes"]) for r in jordan] == [
        ("2026-03-05", "17:55", "21:00", "180"),
        ("2026-03-09", "17:58", "21:00", "180"),
        ("2026-03-11", "17:00", "18:30", "90"),
    ]
    assert jordan[-1]["signed"] == "no" and jordan[-1]["service_codes"] == "90853"
    ana = [r for r in by if r["member"] == "Ana R."]
    assert {(r["status"], r["arrived"], r["service_codes"]) for r in ana} == {
        ("absent_unexcused", "", ""),
        ("absent_excused", "", ""),
    }


def test_filters(db, clinic, tmp_path: Path) -> None:
    def members(flt: AttendanceFilter) -> list[str]:
        out = tmp_path / f"{uuid.uuid4().hex}.json"
        export_database(db, out, fmt="json", flt=flt, force=False)
        return [r["member"] for r in json.loads(out.read_text())["rows"]]

    assert members(AttendanceFilter(member_id=uuid.UUID(clinic.jordan))) == ["Jordan M.", "Jordan M."]
    assert members(AttendanceFilter(member_id=uuid.UUID(clinic.jordan), include_unsigned=True)) == ["Jordan M."] * 3
    assert members(AttendanceFilter(group_id=uuid.UUID(clinic.tele))) == ["Zo\u00eb W."]
    assert members(AttendanceFilter(since=dt.date(2026, 3, 10))) == ["Zo\u00eb W."]
    assert members(AttendanceFilter(until=dt.date(2026, 3, 4))) == []


def test_audit_entry_without_names(db, clinic, tmp_path: Path) -> None:
    from sqlmodel import col, select

    from iop_facilitator.models import AuditEvent

    for how in paths(db):
        out = tmp_path / f"{how}.csv"
        flt = AttendanceFilter(since=dt.date(2026, 3, 1), group_id=uuid.UUID(clinic.evening) if how == "general" else None)
        result = run_export(db, how, out, fmt="csv", flt=flt, force=False)
        with db.session() as s:
            event = s.exec(
                select(AuditEvent).where(AuditEvent.action == "export.attendance").order_by(col(AuditEvent.seq).desc())
            ).first()
        assert event is not None and event.actor == "test-runner" and event.record_type == "export"
        assert "path" not in event.details and str(out) not in json.dumps(event.details)
        assert event.details["files"][0]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
        assert event.details["records"] == result.records == (6 if how == "general" else 7)
        assert event.details["format"] == "csv" and event.details["command"] == "iop export attendance"
        assert event.details["filters"]["since"] == "2026-03-01"
        if how == "general":
            assert event.details["filters"]["group"] == clinic.evening
        text = json.dumps(event.details)
        for name in (*attendance_clinic.NAMES, *attendance_clinic.GROUP_NAMES, "MRN-1042"):
            assert name not in text
    if db.backend == "sqlite":  # the fast path's entry continues the hash chain
        from iop_facilitator import audit_chain

        with db.session() as s:
            rows = [
                dict(r._mapping)
                for r in s.connection().exec_driver_sql(
                    "SELECT id, seq, occurred_at, actor, action, record_type, record_id, details, prev_hash, entry_hash"
                    " FROM audit_event ORDER BY seq"
                )
            ]
        assert audit_chain.verify_rows(rows)[2] == []


def test_existing_file_is_kept_without_force(db, clinic, tmp_path: Path) -> None:
    from iop_facilitator.errors import InvalidInput

    for how in paths(db):
        out = tmp_path / f"{how}.csv"
        out.write_text("keep")
        with pytest.raises(InvalidInput, match="file exists"):
            run_export(db, how, out, fmt="csv", flt=AttendanceFilter(), force=False)
        assert out.read_text() == "keep"
        run_export(db, how, out, fmt="csv", flt=AttendanceFilter(), force=True)
        assert out.read_bytes().startswith(b"\xef\xbb\xbf")
        assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_fast_path_only_takes_plain_sqlite_files_at_head(tmp_path: Path) -> None:
    plain = tmp_path / "plain.db"
    import sqlite3

    sqlite3.connect(plain).execute("CREATE TABLE alembic_version (version_num VARCHAR(32))").connection.commit()
    assert plain_file(str(plain)) == plain
    assert plain_file(f"sqlite:///{plain}") == plain
    assert plain_file(f"sqlite:///{plain}?mode=ro") is None
    assert plain_file("postgresql+psycopg://u@h/db") is None
    assert plain_file(str(tmp_path / "missing.db")) is None
    encrypted = tmp_path / "enc.db"
    encrypted.write_bytes(os.urandom(4096))  # SQLCipher files look like random bytes
    assert plain_file(str(encrypted)) is None
    # An older (or empty) schema goes through the general path, which migrates it.
    assert export_sqlite(plain, tmp_path / "x.csv", fmt="csv", flt=AttendanceFilter(), force=False) is None
    assert not (tmp_path / "x.csv").exists()


def test_partitions() -> None:
    from iop_facilitator.exports.attendance.fast import partitions

    assert partitions(dt.date(2026, 1, 1), dt.date(2026, 1, 1)) == [(dt.date(2026, 1, 1), dt.date(2026, 1, 1))]
    parts = partitions(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert parts[0][0] == dt.date(2026, 1, 1) and parts[-1][1] == dt.date(2026, 12, 31)
    assert all(b + dt.timedelta(days=1) == c for (_, b), (c, _) in itertools.pairwise(parts))
    assert partitions(dt.date(2026, 2, 1), dt.date(2026, 1, 1)) == []


@pytest.mark.parametrize("threads", ["1", "3"])
def test_fast_path_threads_and_partitions_give_the_same_file(
    db, clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    if db.backend != "sqlite":
        pytest.skip("the fast path reads SQLite files")
    from iop_facilitator.exports.attendance import fast

    monkeypatch.setenv("IOP_EXPORT_THREADS", threads)
    monkeypatch.setattr(fast, "PARTITION_DAYS", 1)  # one day per partition: several in flight
    for name, flt in (
        ("attendance-all.csv", AttendanceFilter(include_unsigned=True)),
        ("attendance-week11.csv", AttendanceFilter(since=dt.date(2026, 3, 9), until=dt.date(2026, 3, 15))),
    ):
        out = tmp_path / f"{threads}-{name}"
        run_export(db, "fast", out, fmt="csv", flt=flt, force=False)
        golden(name, out.read_bytes())
