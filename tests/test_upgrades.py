"""Crash-safe schema upgrades (issue 11.5) and the one-meeting-per-start migration (11.3).

Runs on SQLite and, when ``IOP_TEST_PG_URL`` is set, on PostgreSQL. The kill -9 trials
are in ``tests/torture/test_upgrade_kill.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import select

from iop_facilitator.db import migrate
from iop_facilitator.db.engine import open_database
from iop_facilitator.errors import DatabaseProblem
from iop_facilitator.models import Attendance, AuditEvent, GroupMeeting
from iop_facilitator.services import groups, members, staff

UTC = dt.UTC
START = dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def at_revision(target: str, revision: str):
    database = open_database(target, create=True, migrate=False)
    migrate.upgrade(database.engine, revision)
    return database


def revision_of(database) -> str | None:
    return migrate.current_revision(database.engine)


def _meeting(s, group_id, *, status="draft", narrative="", signed=False, created=None) -> uuid.UUID:
    """A meeting row written at an old revision: only the columns it had then (a Core insert, so the
    columns later migrations added to the model are left out; the others take their defaults)."""
    ident = uuid.uuid4()
    s.execute(sa.insert(GroupMeeting.__table__).values(
        id=ident, group_id=group_id, local_date=START.date(), scheduled_start=START,
        scheduled_end=START + dt.timedelta(hours=3), status="signed" if signed else status,
        group_narrative=narrative, signed_at=START + dt.timedelta(hours=4) if signed else None,
        created_at=created or dt.datetime.now(UTC), updated_at=dt.datetime.now(UTC),
    ))
    return ident


def _settings_0005(s) -> None:
    """The program's settings row as the 0005 schema has it (the model has columns added since)."""
    now = dt.datetime.now(UTC)
    s.execute(sa.text(
        "INSERT INTO program_settings (id, created_at, updated_at, version, clinic_name, timezone, crisis_resources, "
        "crisis_steps, disclosure_notice, max_absences, absence_window_weeks, service_codes, weekly_hours_adult, "
        "weekly_hours_adolescent, per_diem_daily_hours, is_demo, idle_lock_minutes) VALUES (:id, :now, :now, 1, "
        "'Test clinic', 'America/Chicago', '[]', '[]', '', 6, 12, '{}', 9.0, 6.0, 3.0, :false, 10)"
    ).bindparams(sa.bindparam("id", type_=sa.Uuid()), sa.bindparam("now", type_=sa.DateTime(timezone=True))),
        {"id": uuid.uuid4(), "now": now, "false": False})


def test_duplicates_from_the_old_race_are_resolved_without_losing_anything(db_target: str) -> None:
    database = at_revision(db_target, "0005")
    try:
        with database.begin() as s:
            _settings_0005(s)
            lead = staff.add_staff(s, "Dana Quinn", "LCSW")
            group = groups.add_group(s, "Evening IOP", weekdays="mon", start_time="09:00", facilitators=[lead])
            avery = members.add_member(s, "Avery T.")
            older = dt.datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
            kept = _meeting(s, group.id, status="in_progress", created=older)
            now = dt.datetime.now(UTC)  # a Core insert: the row as the 0005 schema has it
            s.execute(sa.insert(Attendance.__table__).values(
                id=uuid.uuid4(), meeting_id=kept, member_id=avery.id, status="present", created_at=now, updated_at=now,
            ))
            empty = _meeting(s, group.id, status="in_progress")
            with_text = _meeting(s, group.id, status="draft", narrative="Half the roll call was here.")
            other_group = groups.add_group(s, "Day IOP", weekdays="mon", start_time="09:00", facilitators=[lead])
            signed = _meeting(s, other_group.id, signed=True)
            late_copy = _meeting(s, other_group.id, status="completed", narrative="Notes taken in the copy.")
        migrate.upgrade(database.engine)
        assert revision_of(database) == migrate.head_revision()
        with database.session() as s:
            remaining = {m.id: m for m in s.exec(select(GroupMeeting))}
            assert empty not in remaining  # nothing recorded: an artifact of the race, deleted
            assert {kept, with_text, signed, late_copy} == set(remaining)
            assert remaining[kept].scheduled_start == START  # the one with the most recorded stays put
            assert remaining[signed].scheduled_start == START
            moved = remaining[with_text].scheduled_start - START
            assert dt.timedelta(0) < moved < dt.timedelta(milliseconds=1)
            assert remaining[with_text].group_narrative == "Half the roll call was here."
            assert remaining[late_copy].scheduled_start - START == dt.timedelta(microseconds=1)
            audit = {(e.action, e.record_id) for e in s.exec(select(AuditEvent))}
        assert ("meeting.duplicate_removed", str(empty)) in audit
        assert ("meeting.duplicate_moved", str(with_text)) in audit
        from iop_facilitator.services.integrity import verify_database

        assert verify_database(database).audit_problems == []  # the entries are in the hash chain
    finally:
        database.dispose()


def test_two_signed_meetings_in_one_slot_stop_the_upgrade_and_change_nothing(db_target: str) -> None:
    database = at_revision(db_target, "0005")
    try:
        with database.begin() as s:
            _settings_0005(s)
            group = groups.add_group(s, "Evening IOP", weekdays="mon", start_time="09:00")
            first, second = _meeting(s, group.id, signed=True), _meeting(s, group.id, signed=True)
        with pytest.raises(DatabaseProblem) as refused:
            migrate.upgrade(database.engine)
        assert str(first) in str(refused.value) and str(second) in str(refused.value)
        assert revision_of(database) == "0005"
        with database.session() as s:  # counted with Core: the model has columns 0005 has not
            assert s.execute(sa.select(sa.func.count()).select_from(GroupMeeting.__table__)).scalar() == 2
    finally:
        database.dispose()


def test_an_upgrade_that_fails_halfway_leaves_the_old_schema(db_target: str) -> None:
    """Every step, DDL included, is in one transaction: a failure after step 1 undoes step 1."""
    database = at_revision(db_target, "0002")
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, label: str) -> None:
        seen.append((done, total, label))
        if done == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl+C mid-upgrade

    try:
        before = set(sa.inspect(database.engine).get_table_names())
        with pytest.raises(KeyboardInterrupt):
            migrate.upgrade(database.engine, progress=progress)
        assert revision_of(database) == "0002"
        inspector = sa.inspect(database.engine)
        assert set(inspector.get_table_names()) == before
        assert "content_hash" not in {c["name"] for c in inspector.get_columns("meeting")}  # 0004 undone
        assert [step[0] for step in seen] == [0, 1, 2]  # stopped after the second step
    finally:
        database.dispose()
    reopened = open_database(db_target)  # and the next open upgrades cleanly
    try:
        assert revision_of(reopened) == migrate.head_revision()
        assert reopened.migrated_from == "0002"
    finally:
        reopened.dispose()


def test_progress_reports_every_step(db_target: str) -> None:
    database = at_revision(db_target, "0003")
    seen: list[tuple[int, int, str]] = []
    try:
        migrate.upgrade(database.engine, progress=lambda *args: seen.append(args))
    finally:
        database.dispose()
    total = seen[0][1]
    assert [s[0] for s in seen] == list(range(total + 1))
    assert all(s[1] == total for s in seen) and total >= 3
    assert seen[0][2] == "record integrity and lock settings"  # 0004's first docstring line
    assert seen[-1][2] == "finishing"


def test_leftovers_of_an_older_interrupted_upgrade_are_cleaned_up(tmp_path) -> None:
    """A database broken by the old behaviour (a committed ``_alembic_tmp_*`` table) opens again."""
    target = tmp_path / "clinic.db"
    database = at_revision(str(target), "0003")
    database.dispose()
    conn = sqlite3.connect(target)
    conn.execute("CREATE TABLE _alembic_tmp_audit_event (id CHAR(32) NOT NULL PRIMARY KEY, junk TEXT)")
    conn.execute("INSERT INTO _alembic_tmp_audit_event VALUES ('x', 'half a copy')")
    conn.commit()
    conn.close()
    reopened = open_database(target)
    try:
        names = sa.inspect(reopened.engine).get_table_names()
        assert not [n for n in names if n.startswith("_alembic_tmp_")]
        assert revision_of(reopened) == migrate.head_revision()
    finally:
        reopened.dispose()


def test_a_leftover_copy_whose_original_is_gone_is_never_dropped(tmp_path) -> None:
    target = tmp_path / "clinic.db"
    at_revision(str(target), "0003").dispose()
    conn = sqlite3.connect(target)
    conn.execute("CREATE TABLE _alembic_tmp_nothing_else (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseProblem, match="_alembic_tmp_nothing_else"):
        open_database(target)
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = '_alembic_tmp_nothing_else'").fetchone()[0]
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0003"
    finally:
        conn.close()


def test_the_cli_shows_an_upgrade_on_a_terminal(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from iop_facilitator.cli import progress as progress_module
    from iop_facilitator.cli.app import app

    target = tmp_path / "clinic.db"
    at_revision(str(target), "0003").dispose()
    monkeypatch.setattr(progress_module, "_is_terminal", lambda: True)
    calls: list[tuple[int, int, str]] = []
    real = progress_module.UpgradeProgress.__call__
    monkeypatch.setattr(progress_module.UpgradeProgress, "__call__",
                        lambda self, *args: (calls.append(args), real(self, *args))[1])
    result = CliRunner().invoke(app, ["--db", str(target), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"from schema 0003 to {migrate.head_revision()}" in result.stdout
    assert [c[0] for c in calls] == list(range(calls[0][1] + 1))  # every step, then the end


def signed_at_0005(target: str, count: int = 3):
    """A database at schema 0005 holding ``count`` signed meetings (one per group), for 0006's backfill."""
    database = at_revision(target, "0005")
    with database.begin() as s:
        _settings_0005(s)
        for i in range(count):
            group = groups.add_group(s, f"Group {i}", weekdays="mon", start_time="09:00")
            _meeting(s, group.id, signed=True)
    return database


def test_a_long_data_step_reports_its_rows(db_target: str) -> None:
    database = signed_at_0005(db_target, 3)
    seen: list[tuple] = []
    try:
        migrate.upgrade(database.engine, progress=lambda *args: seen.append(args))
    finally:
        database.dispose()
    steps = [call for call in seen if len(call) == 3]
    rows = [call for call in seen if len(call) == 4]
    assert [s[0] for s in steps] == list(range(steps[0][1] + 1))
    assert [call[3] for call in rows] == [(0, 3), (3, 3)]
    assert all(call[2] == rows[0][2] and "signed snapshots" in call[2] for call in rows)  # 0006's step
    assert all(call[0] == 0 for call in rows)  # while 0006, the first step from 0005, runs


def test_the_cli_prints_one_line_per_upgrade_step_when_not_on_a_terminal(tmp_path) -> None:
    from typer.testing import CliRunner

    from iop_facilitator.cli.app import app

    target = tmp_path / "clinic.db"
    signed_at_0005(str(target), 2).dispose()
    result = CliRunner().invoke(app, ["--db", str(target), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    total = len(lines) - 1
    assert lines[0] == f"iop: upgrading the database, step 1 of {total}: signed snapshots, reference-data history, " \
                       "lock triggers without bypasses"
    assert [line.split(",")[1].split(":")[0].strip() for line in lines[:-1]] == [
        f"step {i} of {total}" for i in range(1, total + 1)
    ]
    assert lines[-1] == f"iop: database upgraded ({total} steps)"
    assert not re.search(r"\d of [\d,]+ rows", result.stderr)  # row progress only on a terminal
    assert f"from schema 0005 to {migrate.head_revision()}" in result.stdout


def test_the_cli_bar_on_a_terminal_counts_rows(tmp_path, monkeypatch) -> None:
    from iop_facilitator.cli import progress as progress_module

    monkeypatch.setattr(progress_module, "_is_terminal", lambda: True)
    shown = progress_module.UpgradeProgress()
    updates: list[dict] = []
    target = tmp_path / "clinic.db"
    database = signed_at_0005(str(target), 2)
    try:
        migrate.upgrade(database.engine, progress=lambda *args: (
            shown(*args), updates.append(dict(shown._bar.tasks[0].fields, done=shown._bar.tasks[0].completed))
            if shown._bar is not None else None))
    finally:
        shown.stop()
        database.dispose()
    wheres = [u["where"] for u in updates]
    total = updates[0]["where"].split(" of ")[1]
    assert wheres[0] == f"step 1 of {total}" and f"step 1 of {total}, 2 of 2 rows" in wheres
    assert f"step 2 of {total}" in wheres
    assert shown._bar is None  # removed at the end
