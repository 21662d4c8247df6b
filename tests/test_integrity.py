"""Record integrity: the database-enforced lock, content hashes, the audit hash chain, backups.

On SQLite and (when configured) PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from iop_facilitator import audit_chain
from iop_facilitator.enums import AttendanceStatus, RiskLevel, StaffRole
from iop_facilitator.errors import Conflict
from iop_facilitator.models import AuditEvent, FollowUp, GroupMeeting, Staff
from iop_facilitator.services import addenda, audit, canonical, integrity, live, notes, safety, staff
from iop_facilitator.services import cosign as cosign_service
from iop_facilitator.services.maintenance import integrity_problems, lock_trigger_problems
from tests.test_live_services import START, complete_meeting, library, room, snap  # noqa: F401 - fixtures

U = sa.Uuid()


def bound(sql: str, params: dict) -> sa.TextClause:
    """``sql`` with typed binds for the UUID and datetime parameters (raw drivers take neither as is)."""
    types = {uuid.UUID: U, dt.datetime: sa.DateTime(timezone=True), dt.date: sa.Date()}
    binds = [sa.bindparam(k, type_=t) for k, v in params.items() for cls, t in types.items()
             if isinstance(v, cls) and not (cls is dt.date and isinstance(v, dt.datetime))]
    return sa.text(sql).bindparams(*binds)


def sign(db, room, library) -> uuid.UUID:  # noqa: F811
    complete_meeting(db, room, library)
    with db.begin() as s:
        notes.sign(s, room["meeting"], room["lead"], at=START + dt.timedelta(hours=4))
    return room["meeting"]


def refused(db, sql: str, **params) -> None:
    with pytest.raises(IntegrityError, match="iop-lock"), db.engine.begin() as conn:
        conn.execute(bound(sql, params), params)


def allowed(db, sql: str, **params) -> int:
    with db.engine.begin() as conn:
        result = conn.execute(bound(sql, params), params)
        return result.rowcount


def one_child(db, table: str, meeting_id: uuid.UUID) -> uuid.UUID:
    with db.engine.connect() as conn:
        stmt = sa.text(f"SELECT id FROM {table} WHERE meeting_id = :mid").bindparams(sa.bindparam("mid", type_=U))
        return conn.execute(stmt.columns(sa.column("id", U)), {"mid": meeting_id}).scalars().first()


def tamper(db, table: str, sql: str, **params) -> None:
    """Run ``sql`` behind the triggers' back (dropped on SQLite, disabled on PostgreSQL)."""
    with db.engine.begin() as conn:
        if db.backend == "sqlite":
            for (name,) in conn.exec_driver_sql(
                f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{table}'"
            ).fetchall():
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        conn.execute(bound(sql, params), params)


# --------------------------------------------------------------------------- the lock


def test_raw_sql_cannot_change_a_signed_meeting_or_its_parts(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    refused(db, "UPDATE meeting SET homework = 'changed' WHERE id = :mid", mid=mid)
    refused(db, "UPDATE meeting SET status = 'completed', signed_at = NULL WHERE id = :mid", mid=mid)
    refused(db, "UPDATE meeting SET content_hash = NULL WHERE id = :mid", mid=mid)
    refused(db, "DELETE FROM meeting WHERE id = :mid", mid=mid)
    for table, column in (("attendance", "checkout_takeaway"), ("progress_note", "response")):
        rid = one_child(db, table, mid)
        refused(db, f"UPDATE {table} SET {column} = 'changed' WHERE id = :rid", rid=rid)
        refused(db, f"DELETE FROM {table} WHERE id = :rid", rid=rid)
    member = room["people"]["Avery T."]
    refused(db, "INSERT INTO story_note (id, created_at, updated_at, version, meeting_id, member_id, recorded_at, text) "
                "VALUES (:nid, :now, :now, 1, :mid, :member_id, :now, 'added later')",
            nid=uuid.uuid4(), mid=mid, member_id=member, now=START)
    refused(db, "INSERT INTO safety_event (id, created_at, updated_at, version, meeting_id, occurred_at, concern, "
                "risk_level, disposition) VALUES (:nid, :now, :now, 1, :mid, :now, '', 'low', 'x')",
            nid=uuid.uuid4(), mid=mid, now=START)
    with db.session() as s:  # nothing changed
        meeting = s.get(GroupMeeting, mid)
        assert meeting.content_hash == integrity.meeting_hash(s, mid)


def test_moving_a_row_into_a_signed_meeting_is_refused(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    with db.begin() as s:
        from iop_facilitator.services import groups

        other = live.start_meeting(s, groups.resolve_group(s, "Evening IOP"), START.date() + dt.timedelta(days=2),
                                   now=START + dt.timedelta(days=2))
        live.add_story(s, other.id, room["people"]["Avery T."], "a story")
    story = one_child(db, "story_note", other.id)
    refused(db, "UPDATE story_note SET meeting_id = :mid WHERE id = :sid", mid=mid, sid=story)
    assert allowed(db, "UPDATE story_note SET text = 'edited' WHERE id = :sid", sid=story) == 1


def test_cosignature_can_be_added_once_and_nothing_else(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    with db.begin() as s:
        supervisor = staff.add_staff(s, "Robin Park", "LICSW").id
    params = {"mid": mid, "sup_id": supervisor, "at": START + dt.timedelta(days=1)}
    refused(db, "UPDATE meeting SET cosigned_by_id = :sup_id, cosigned_at = :at, cosigner_credentials = 'LICSW', "
                "homework = 'sneaked in' WHERE id = :mid", **params)
    # Raw SQL cannot co-sign: only the audited path (which freezes the co-signer first) can.
    refused(db, "UPDATE meeting SET cosigned_by_id = :sup_id, cosigned_at = :at, cosigner_credentials = 'LICSW', "
                "version = version + 1, updated_at = :at WHERE id = :mid", **params)
    with db.begin() as s:
        s.get(Staff, supervisor).role = StaffRole.supervisor
    with db.begin() as s:
        cosign_service.cosign(s, mid, supervisor, at=params["at"])
    refused(db, "UPDATE meeting SET cosigned_by_id = :sup_id, cosigned_at = :at, cosigner_credentials = 'MD' "
                "WHERE id = :mid", **params)
    refused(db, "UPDATE meeting SET cosigned_by_id = NULL, cosigned_at = NULL WHERE id = :mid", mid=mid)
    report = integrity.verify_database(db)
    assert report.ok, report.lines()  # the co-signature is not part of the signed content


def test_unsigned_records_stay_editable_and_follow_ups_closable(db, room, library) -> None:  # noqa: F811
    mid = room["meeting"]
    with db.begin() as s:
        live.mark(s, mid, room["people"]["Avery T."], AttendanceStatus.present, at=START)
        live.add_follow_up(s, room["people"]["Avery T."], "call back", meeting_id=mid)
    att = one_child(db, "attendance", mid)
    assert allowed(db, "UPDATE meeting SET homework = 'draft' WHERE id = :mid", mid=mid) == 1
    assert allowed(db, "UPDATE attendance SET checkout_takeaway = 'x' WHERE id = :aid", aid=att) == 1
    assert allowed(db, "DELETE FROM attendance WHERE id = :aid", aid=att) == 1
    sign(db, room, library)
    with db.begin() as s:
        follow_up = s.exec(select(FollowUp)).one()
        live.complete_follow_up(s, follow_up.id)  # tasks, not the record: still closable
    with db.session() as s:
        assert s.get(FollowUp, follow_up.id).done


def test_addenda_and_audit_entries_are_append_only(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    with db.begin() as s:
        row = addenda.add_addendum(s, mid, room["lead"], reason="late detail", text="Member called after group.")
    refused(db, "UPDATE addendum SET text = 'rewritten' WHERE id = :aid", aid=row.id)
    refused(db, "DELETE FROM addendum WHERE id = :aid", aid=row.id)
    refused(db, "UPDATE audit_event SET actor = 'someone else'")
    refused(db, "DELETE FROM audit_event")
    if db.backend == "postgresql":
        with pytest.raises(IntegrityError, match="iop-lock"), db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_event")


def test_services_refuse_every_change_to_a_signed_meeting(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    avery = room["people"]["Avery T."]
    attempts = [
        lambda s: live.mark(s, mid, avery, AttendanceStatus.absent_excused),
        lambda s: live.set_checkin(s, mid, avery, mood=5),
        lambda s: live.add_story(s, mid, avery, "late"),
        lambda s: live.set_narrative(s, mid, "changed"),
        lambda s: live.set_homework(s, mid, "changed"),
        lambda s: live.finish_meeting(s, mid),
        lambda s: notes.save_note(s, mid, avery, plan="changed"),
        lambda s: notes.sign(s, mid, room["lead"]),
        lambda s: safety.record_event(s, mid, avery, "late concern"),
    ]
    for attempt in attempts:
        with db.begin() as s, pytest.raises(Conflict):
            attempt(s)
    assert integrity.verify_database(db).ok


def test_safety_disposition_is_locked_after_signing(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    with db.begin() as s:
        event = safety.record_event(s, room["meeting"], room["people"]["Blake S."], "")
        safety.set_disposition(s, event.id, risk_level=RiskLevel.low, disposition="Screened; safety plan reviewed.")
        notes.sign(s, room["meeting"], room["lead"])
    with db.begin() as s, pytest.raises(Conflict):
        safety.set_disposition(s, event.id, risk_level=RiskLevel.high, disposition="rewritten")
    refused(db, "UPDATE safety_event SET disposition = 'rewritten' WHERE id = :eid", eid=event.id)


# --------------------------------------------------------------------------- content hash


def test_signing_stores_the_content_hash(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    with db.session() as s:
        meeting = s.get(GroupMeeting, mid)
        assert meeting.content_hash and len(meeting.content_hash) == 64
        assert meeting.content_hash == integrity.meeting_hash(s, mid)
        body = json.loads(integrity.canonical_meeting(s, mid))
    fields = dict(zip((name for name, _ in canonical.MEETING_FIELDS), body["meeting"]))
    assert fields["status"] == "signed" and fields["signer_credentials"] == "LCSW" and fields["id"] == mid.hex
    assert len(body["attendance"]) == 4 and len(body["progress_notes"]) == 4
    report = integrity.verify_database(db)
    assert report.ok and report.meetings_checked == 1


def test_verify_names_a_meeting_changed_behind_the_triggers_back(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    note = one_child(db, "progress_note", mid)
    tamper(db, "progress_note", "UPDATE progress_note SET response = 'rewritten' WHERE id = :nid", nid=note)
    problems = lock_trigger_problems(db)
    assert problems and all("progress_note" in p for p in problems)
    assert any("progress_note" in p for p in integrity_problems(db))
    report = integrity.verify_database(db)
    assert not report.ok
    [problem] = report.meeting_problems
    assert problem.meeting_id == mid.hex and problem.local_date == "2026-11-23"
    assert problem.group_id == room["group"].hex and "no longer matches" in problem.problem
    assert report.audit_problems == []


def test_verify_catches_a_meeting_unsigned_behind_the_triggers_back(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    tamper(db, "meeting", "UPDATE meeting SET status = 'completed', signed_at = NULL WHERE id = :mid", mid=mid)
    [problem] = integrity.verify_database(db).meeting_problems
    assert "no longer marked signed" in problem.problem


def test_canonical_content_is_the_same_from_storage_tuples_and_objects() -> None:
    meeting = {"id": uuid.UUID(int=1), "local_date": dt.date(2026, 1, 5), "prompts_done": [1, 2],
               "signed_at": dt.datetime(2026, 1, 5, 20, 0, 0, 5, tzinfo=dt.UTC), "status": "signed"}
    stored = {"id": uuid.UUID(int=1).hex, "local_date": "2026-01-05", "prompts_done": "[1, 2]",
              "signed_at": "2026-01-05 20:00:00.000005", "status": "signed"}
    att = [{"id": uuid.UUID(int=3), "drop_in": False, "checkin_mood": 4}]
    att_stored = [{"id": str(uuid.UUID(int=3)), "drop_in": 0, "checkin_mood": 4}]
    assert canonical.canonical_bytes(meeting, att) == canonical.canonical_bytes(stored, att_stored)
    assert canonical.hash_content(meeting, att) != canonical.hash_content({**meeting, "homework": "x"}, att)


def test_the_seeders_fast_hasher_agrees_with_the_canonical_function() -> None:
    from iop_facilitator.demo.clinic import _schedule_fn, bundled_topic_versions, table_columns
    from iop_facilitator.demo.generate import generate

    COLUMNS = table_columns()
    hasher = canonical.StorageHasher(COLUMNS)
    chunks = generate(groups=1, weeks=3, members_per_group=5, seed=9, end=dt.date(2026, 11, 2),
                      schedule=_schedule_fn("America/Chicago"), columns=COLUMNS, topic_versions=bundled_topic_versions())
    tables: dict[str, list[tuple]] = {}
    for chunk in chunks:
        for name, rows in chunk.tables:
            tables.setdefault(name, []).extend(rows)
    as_dicts = {name: [dict(zip(COLUMNS[name], r)) for r in rows] for name, rows in tables.items()}
    checked = 0
    for meeting, row in zip(as_dicts["meeting"], tables["meeting"]):
        if meeting["status"] != "signed":
            continue
        mine = {key: [r for r in as_dicts[table] if r["meeting_id"] == meeting["id"]]
                for key, (table, _fields) in canonical.PARTS.items() if table in as_dicts}
        raw = {key: [r for r in tables[table] if dict(zip(COLUMNS[table], r))["meeting_id"] == meeting["id"]]
               for key, (table, _fields) in canonical.PARTS.items() if table in tables}
        [frozen] = [s for s in as_dicts["signed_snapshot"] if s["meeting_id"] == meeting["id"]]
        members = [m for m in as_dicts["signed_member"] if m["meeting_id"] == meeting["id"]]
        assert frozen["snapshot_hash"] == canonical.snapshot_hash(frozen, members)
        assert len(members) == len(mine["attendance"])
        sealed = frozen["snapshot_hash"]
        assert meeting["content_hash"] == canonical.hash_content(meeting, **mine, snapshot_hash=sealed) == hasher(
            row, sealed, **raw
        )
        checked += 1
    assert checked > 3


def test_a_seeded_clinic_verifies(db) -> None:
    from iop_facilitator.demo.clinic import seed_clinic

    seed_clinic(db, groups=2, weeks=2, members_per_group=6, seed=3, end=dt.date(2026, 11, 2))
    report = integrity.verify_database(db)
    assert report.ok, report.lines()[:3]
    assert report.meetings_checked > 5 and report.audit_entries == 1


# --------------------------------------------------------------------------- audit chain


def chain_rows(db) -> list[dict]:
    with db.engine.connect() as conn:
        return [dict(r) for r in integrity.audit_rows(conn)]


def test_audit_entries_are_chained(db) -> None:
    with db.begin() as s:
        for n in range(3):
            audit.record(s, "test.event", record_type="thing", record_id=uuid.UUID(int=n), n=n, nested={"b": 1, "a": [n]})
    with db.begin() as s:
        audit.record(s, "test.event", n=3)
    rows = chain_rows(db)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["prev_hash"] == audit_chain.GENESIS
    assert all(b["prev_hash"] == a["entry_hash"] for a, b in itertools.pairwise(rows))
    count, head, problems = audit_chain.verify_rows(rows)
    assert (count, head, problems) == (4, rows[-1]["entry_hash"], [])


def test_verify_catches_an_edited_removed_or_inserted_audit_entry(db) -> None:
    with db.begin() as s:
        for n in range(5):
            audit.record(s, "test.event", n=n)
    assert integrity.verify_database(db).ok
    tamper(db, "audit_event", "UPDATE audit_event SET details = :d WHERE seq = 2", d=json.dumps({"n": 99}))
    tamper(db, "audit_event", "DELETE FROM audit_event WHERE seq = 4")
    tamper(db, "audit_event", "INSERT INTO audit_event (id, created_at, occurred_at, actor, action, record_type, details) "
                              "VALUES (:eid, :t, :t, 'x', 'fake', '', '{}')", eid=uuid.uuid4(), t=START)
    report = integrity.verify_database(db)
    lines = report.lines()
    assert not report.ok and report.meeting_problems == []
    assert any(line.startswith("audit entry seq 2:") and "changed" in line for line in lines)
    assert any(line.startswith("audit entry seq 5:") and "4 are missing" in line for line in lines)
    assert any("not in the hash chain" in line for line in lines)


def test_append_sqlite_writes_what_sqlmodel_reads(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database

    database = open_database(tmp_path / "c.db", create=True)
    try:
        with database.begin() as s:
            audit.record(s, "first")
        conn = sqlite3.connect(tmp_path / "c.db")
        assert audit_chain.append_sqlite(conn, actor="os:tester", action="export.pdf", record_type="meeting",
                                         record_id=uuid.UUID(int=7), details={"format": "pdf", "pages": 2}) == 2
        conn.execute("BEGIN")
        audit_chain.append_sqlite(conn, actor="os:tester", action="export.fhir")  # inside the caller's transaction
        conn.commit()
        conn.close()
        with database.begin() as s:
            audit.record(s, "last")
        with database.session() as s:
            events = s.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [e.action for e in events] == ["first", "export.pdf", "export.fhir", "last"]
        assert events[1].details == {"format": "pdf", "pages": 2} and events[1].occurred_at.tzinfo is not None
        assert events[1].record_id == str(uuid.UUID(int=7))
        assert integrity.verify_database(database).ok
    finally:
        database.dispose()


WRITER = """
import sqlite3, sys
from iop_facilitator import audit_chain
conn = sqlite3.connect(sys.argv[1], timeout=30)
for n in range(int(sys.argv[2])):
    audit_chain.append_sqlite(conn, actor=sys.argv[3], action="test.concurrent", details={"n": n})
"""


def test_concurrent_appenders_do_not_fork_the_chain(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database

    path = tmp_path / "c.db"
    database = open_database(path, create=True)
    try:
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), "40", f"p{i}"]) for i in range(2)]
        for n in range(40):
            with database.begin() as s:
                audit.record(s, "test.concurrent", n=n)
        assert all(p.wait(timeout=120) == 0 for p in procs)
        report = integrity.verify_database(database)
        assert report.ok, report.lines()[:3]
        assert report.audit_entries == 120
    finally:
        database.dispose()


def test_concurrent_sessions_do_not_fork_the_chain(db) -> None:
    import threading

    errors: list[BaseException] = []

    def work() -> None:
        try:
            for n in range(15):
                with db.begin() as s:
                    audit.record(s, "test.thread", n=n)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = integrity.verify_database(db)
    assert report.ok and report.audit_entries == 45


def test_upgrading_a_0003_database_chains_old_entries_and_seals_signed_meetings(db_target: str) -> None:
    from iop_facilitator.db.engine import create_engine_for, open_database, parse_target
    from iop_facilitator.db.migrate import upgrade

    url = parse_target(db_target)
    if url.get_backend_name() == "sqlite":  # engines never create the file (db/engine.py): open_database does
        from iop_facilitator.files import ensure_private_file

        ensure_private_file(Path(url.database))
    engine = create_engine_for(url)
    upgrade(engine, "0003")
    t0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
    group, meeting = uuid.UUID(int=10), uuid.UUID(int=11)
    ins = sa.text(
        "INSERT INTO audit_event (id, created_at, occurred_at, actor, action, record_type, record_id, details) "
        "VALUES (:eid, :t, :t, 'os:old', :action, 'x', NULL, :details)"
    ).bindparams(sa.bindparam("eid", type_=U), sa.bindparam("t", type_=sa.DateTime(timezone=True)))
    with engine.begin() as conn:
        for n, minutes in enumerate((30, 10, 20)):  # written out of time order
            conn.execute(ins, {"eid": uuid.UUID(int=100 + n), "t": t0 + dt.timedelta(minutes=minutes),
                               "action": f"old.{minutes}", "details": json.dumps({"n": n})})
        conn.execute(
            sa.text("INSERT INTO therapy_group (id, created_at, updated_at, version, name, group_type, enrollment, "
                    "weekdays, start_time, duration_minutes, status, level_of_care, audience, modality, location, "
                    "capacity) VALUES (:gid, :t, :t, 1, 'G', 'process', 'open', '[]', '09:00', 180, 'active', 'IOP', "
                    "'adult', 'in_person', '', 15)").bindparams(sa.bindparam("gid", type_=U)),
            {"gid": group, "t": t0},
        )
        conn.execute(
            sa.text("INSERT INTO meeting (id, created_at, updated_at, version, group_id, local_date, scheduled_start, "
                    "scheduled_end, modality, location, status, group_narrative, note_format, homework, flow_step, "
                    "signed_at, signer_credentials) VALUES (:mid, :t, :t, 1, :gid, :d, :t, :t2, 'in_person', '', "
                    "'signed', 'n', 'GIRP', '', '', :t2, 'LCSW')").bindparams(
                sa.bindparam("mid", type_=U), sa.bindparam("gid", type_=U)),
            {"mid": meeting, "gid": group, "t": t0, "t2": t0 + dt.timedelta(hours=3), "d": dt.date(2026, 1, 5)},
        )
    engine.dispose()
    database = open_database(db_target)
    try:
        assert database.migrated_from == "0003"
        rows = chain_rows(database)
        # 0005 chained the old entries; 0006 snapshotted the signed meeting and anchored it.
        assert [r["action"] for r in rows] == ["old.10", "old.20", "old.30", "integrity.backfill"]
        assert audit_chain.plain_details(rows[-1]["details"])["meetings"] == 1
        report = integrity.verify_database(database)
        assert report.ok, report.lines()
        assert report.meetings_checked == 1 and report.snapshots_checked == 1 and report.audit_entries == 4
        assert lock_trigger_problems(database) == []
        with database.begin() as s:
            audit.record(s, "new")
        assert integrity.verify_database(database).audit_entries == 5
        refused(database, "UPDATE meeting SET homework = 'x' WHERE id = :mid", mid=meeting)
    finally:
        database.dispose()


def test_downgrade_drops_the_triggers(tmp_path: Path) -> None:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.db.migrate import upgrade

    database = open_database(tmp_path / "c.db", create=True)
    try:
        from alembic import command

        from iop_facilitator.db.migrate import alembic_config

        command.downgrade(alembic_config(database.engine), "0004")
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").scalar() == 0
        upgrade(database.engine)
        assert lock_trigger_problems(database) == []
    finally:
        database.dispose()


def test_lock_errors_become_one_line_conflicts() -> None:
    from iop_facilitator.cli.errors import one_line

    exc = IntegrityError("UPDATE meeting ...", {}, sqlite3.IntegrityError("iop-lock: this meeting is signed and locked"))
    assert one_line(exc) == "the database refused the change: this meeting is signed and locked"
