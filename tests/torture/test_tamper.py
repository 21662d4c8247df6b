"""The raw-SQL tamper catalogue (issue 11, "What was seen" 1-3), on SQLite and PostgreSQL.

Two halves. With the lock triggers intact, every bypass seen is refused (SQLite
``INSERT OR REPLACE`` / ``UPDATE OR REPLACE``, which delete conflicting rows
without firing DELETE triggers; PostgreSQL ``TRUNCATE``; a raw co-signature). With
the triggers dropped or disabled behind the program's back, ``iop db check`` names
the weakened guard (by definition and enabled state, not by name) and ``iop db
verify`` names every change: each signature, co-signature and addendum is matched
with the audit entry that sealed it, both ways, and the chain against an anchor kept
outside the database.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from iop_facilitator import audit_chain
from iop_facilitator.enums import AttendanceStatus
from iop_facilitator.services import integrity
from iop_facilitator.services.maintenance import lock_trigger_problems
from tests.test_live_services import library, room  # noqa: F401 - fixtures
from tests.torture.tamper_helpers import (
    START,
    allowed,
    cosigned,
    lines,
    one_child,
    refused,
    scalar,
    sign,
    sql_columns,
    tamper,
    verify,
    with_addendum,
)


def sqlite_only(db) -> None:
    if db.backend != "sqlite":
        pytest.skip("INSERT OR REPLACE / UPDATE OR REPLACE are SQLite statements")


def postgres_only(db) -> None:
    if db.backend != "postgresql":
        pytest.skip("a PostgreSQL statement")


# --------------------------------------------------------------------------- refused with the triggers intact


def test_replace_into_cannot_unsign_a_meeting(db, room, library) -> None:  # noqa: F811
    sqlite_only(db)
    mid = sign(db, room, library)
    columns = [c for c in sql_columns(db, "meeting")]
    forged = {"status": "'completed'", "signed_at": "NULL", "signed_by_id": "NULL", "content_hash": "NULL"}
    select = ", ".join(forged.get(c, c) for c in columns)
    refused(db, f"INSERT OR REPLACE INTO meeting ({', '.join(columns)}) SELECT {select} FROM meeting WHERE id = :mid", mid=mid)
    refused(db, f"REPLACE INTO meeting ({', '.join(columns)}) SELECT {', '.join(columns)} FROM meeting WHERE id = :mid", mid=mid)
    assert verify(db).ok


def test_replace_into_cannot_rewrite_any_locked_row(db, room, library) -> None:  # noqa: F811
    sqlite_only(db)
    mid, boss = cosigned(db, room, library)
    with_addendum(db, mid, boss)
    with db.begin() as s:  # a history row (staff edited)
        from iop_facilitator.services import staff as staff_service

        staff_service.update_staff(s, staff_service.resolve_staff(s, "Dana Quinn").id, credentials="LCSW-S")
    for table in ("attendance", "progress_note", "signed_snapshot", "signed_member", "signed_cosign", "addendum",
                  "audit_event", "row_history"):
        if table in ("audit_event", "row_history"):
            rid = scalar(db, f"SELECT id FROM {table} ORDER BY id LIMIT 1")
        else:
            rid = scalar(db, f"SELECT id FROM {table} WHERE meeting_id = :mid ORDER BY id LIMIT 1", mid=mid)
        assert rid is not None, table
        refused(db, f"INSERT OR REPLACE INTO {table} SELECT * FROM {table} WHERE id = :rid", rid=rid)
    last = scalar(db, "SELECT max(seq) FROM audit_event")
    refused(db, "REPLACE INTO audit_event SELECT * FROM audit_event WHERE seq = :seq", seq=last)
    report = verify(db)
    assert report.ok, lines(report)


def test_update_or_replace_cannot_move_a_row_onto_a_locked_one(db, room, library) -> None:  # noqa: F811
    sqlite_only(db)
    mid = sign(db, room, library)
    with db.begin() as s:
        from iop_facilitator.services import groups, live

        other = live.start_meeting(s, groups.resolve_group(s, "Evening IOP"), START.date() + dt.timedelta(days=2),
                                   now=START + dt.timedelta(days=2))
        live.add_story(s, other.id, room["people"]["Avery T."], "a story on another day")
        live.mark(s, other.id, room["people"]["Avery T."], AttendanceStatus.present, at=START + dt.timedelta(days=2))
    victim = one_child(db, "attendance", mid)
    draft_row = scalar(db, "SELECT id FROM story_note WHERE meeting_id = :oid", oid=other.id)
    refused(db, "UPDATE OR REPLACE meeting SET id = :signed WHERE id = :draft", signed=mid, draft=other.id)
    refused(db, "UPDATE OR REPLACE attendance SET id = :victim WHERE meeting_id = :oid", victim=victim, oid=other.id)
    assert allowed(db, "UPDATE story_note SET text = 'still a draft' WHERE id = :row", row=draft_row) == 1
    assert verify(db).ok


def test_truncate_of_any_locked_table_is_refused(db, room, library) -> None:  # noqa: F811
    postgres_only(db)
    sign(db, room, library)
    for table in ("attendance", "progress_note", "story_note", "safety_event", "signed_snapshot", "signed_member",
                  "signed_cosign", "addendum", "audit_event", "row_history", "meeting"):
        refused(db, f"TRUNCATE {table} CASCADE")
    refused(db, "TRUNCATE member CASCADE")  # cascades into attendance: refused there
    assert verify(db).ok


def test_raw_sql_cannot_cosign(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    boss = uuid.uuid4()
    refused(db, "UPDATE meeting SET cosigned_by_id = :boss, cosigned_at = :at, cosigner_credentials = 'MD' "
                "WHERE id = :mid", mid=mid, boss=boss, at=START)


# --------------------------------------------------------------------------- db check: definitions, not names


def test_db_check_names_a_trigger_replaced_by_a_weaker_one_with_the_same_name(db, room, library) -> None:  # noqa: F811
    assert lock_trigger_problems(db) == []
    with db.engine.begin() as conn:
        if db.backend == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER iop_lock_story_note_update")
            conn.exec_driver_sql(
                "CREATE TRIGGER iop_lock_story_note_update BEFORE UPDATE ON story_note WHEN 0 "
                "BEGIN SELECT RAISE(ABORT, 'iop-lock: story_note of a signed meeting is locked'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION iop_lock_meeting_part() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
            )
    problems = lock_trigger_problems(db)
    expected = "iop_lock_story_note_update was changed" if db.backend == "sqlite" else "iop_lock_meeting_part was changed"
    assert any(expected in p for p in problems), problems


def test_db_check_names_a_trigger_set_to_fire_only_on_replicas(db) -> None:
    postgres_only(db)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE progress_note ENABLE REPLICA TRIGGER iop_lock_progress_note")
    assert any("iop_lock_progress_note is disabled or set to fire only on replicas" in p for p in lock_trigger_problems(db))
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE progress_note ENABLE ALWAYS TRIGGER iop_lock_progress_note")
    assert lock_trigger_problems(db) == []  # ALWAYS fires in every session: as strong


def test_db_check_names_an_unexpected_trigger_on_a_guarded_table(db) -> None:
    with db.engine.begin() as conn:
        if db.backend == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER sneaky AFTER INSERT ON audit_event BEGIN SELECT 1; END")
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER sneaky BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION iop_no_truncate()"
            )
    assert any("unexpected trigger sneaky on audit_event" in p for p in lock_trigger_problems(db))


# --------------------------------------------------------------------------- verify: every change behind the triggers' back


def test_untouched_records_verify_and_the_anchor_holds(db, room, library) -> None:  # noqa: F811
    mid, boss = cosigned(db, room, library)
    with_addendum(db, mid, boss)
    report = verify(db)
    assert report.ok, lines(report)
    assert report.meetings_checked == report.snapshots_checked == 1
    assert report.cosignatures_checked == 1 and report.addenda_checked == 1
    anchor = report.anchor()
    again = verify(db, anchor=integrity.Anchor.parse(anchor.text()))
    assert again.ok and again.anchor_checked


def test_a_deleted_signed_meeting_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    for table in ("attendance", "progress_note", "story_note", "safety_event", "signed_member", "signed_snapshot"):
        tamper(db, table, f"DELETE FROM {table} WHERE meeting_id = :mid", mid=mid)
    tamper(db, "meeting", "DELETE FROM meeting WHERE id = :mid", mid=mid)
    report = verify(db)
    assert not report.ok
    assert f"signed meeting {mid.hex}, which is no longer signed or no longer exists" in lines(report)


def test_an_unsigned_meeting_is_named_even_without_its_hash(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    tamper(db, "meeting", "UPDATE meeting SET status = 'completed', signed_at = NULL, signed_by_id = NULL, "
                          "content_hash = NULL WHERE id = :mid", mid=mid)
    report = verify(db)
    assert f"signed meeting {mid.hex}, which is no longer signed" in lines(report)


def test_a_note_edited_and_resealed_with_the_apps_own_code_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    note = one_child(db, "progress_note", mid)
    tamper(db, "meeting", "UPDATE meeting SET status = 'completed', signed_at = NULL WHERE id = :mid", mid=mid)
    tamper(db, "progress_note", "UPDATE progress_note SET response = 'rewritten' WHERE id = :nid", nid=note)
    with db.session() as s:  # the app's own hashing, over the rewritten note
        digest = integrity.meeting_hash(s, mid, status="signed", signed_at=START + dt.timedelta(hours=4))
    tamper(db, "meeting", "UPDATE meeting SET status = 'signed', signed_at = :at, content_hash = :h WHERE id = :mid",
           mid=mid, at=START + dt.timedelta(hours=4), h=digest)
    report = verify(db)
    assert not report.meeting_problems  # the row now matches its (recomputed) hash ...
    assert f"sealed meeting {mid.hex} with a content hash it no longer has" in lines(report)  # ... not the signature


def test_a_reseal_with_a_forged_audit_entry_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    note = one_child(db, "progress_note", mid)
    tamper(db, "progress_note", "UPDATE progress_note SET plan = 'rewritten' WHERE id = :nid", nid=note)
    with db.session() as s:
        digest = integrity.meeting_hash(s, mid)
    tamper(db, "meeting", "UPDATE meeting SET content_hash = :h WHERE id = :mid", mid=mid, h=digest)
    with db.begin() as s:  # and a new, correctly chained meeting.sign entry for the new hash
        from iop_facilitator.services import audit

        audit.record(s, "meeting.sign", record_type="meeting", record_id=mid, content_hash=digest)
    text = lines(verify(db))
    assert "signed 2 times in the audit log" in text
    assert "with a content hash it no longer has" in text


def test_a_forged_or_changed_cosignature_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    boss = uuid.uuid4()
    with db.begin() as s:
        from iop_facilitator.services import staff as staff_service

        boss = staff_service.add_staff(s, "Forged Boss", "MD").id
    tamper(db, "meeting", "UPDATE meeting SET cosigned_by_id = :b, cosigned_at = :at, cosigner_credentials = 'MD' "
                          "WHERE id = :mid", mid=mid, b=boss, at=START + dt.timedelta(days=1))
    assert "co-signed without the app's co-signature record" in lines(verify(db))


def test_a_changed_cosignature_is_named(db, room, library) -> None:  # noqa: F811
    mid, _boss = cosigned(db, room, library)
    tamper(db, "meeting", "UPDATE meeting SET cosigner_credentials = 'MD' WHERE id = :mid", mid=mid)
    assert "differs from the one recorded at co-signing" in lines(verify(db))


def test_an_edited_or_deleted_addendum_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    first = with_addendum(db, mid, room["lead"])
    second = with_addendum(db, mid, room["lead"])
    tamper(db, "addendum", "UPDATE addendum SET text = 'rewritten' WHERE id = :aid", aid=first)
    tamper(db, "addendum", "DELETE FROM addendum WHERE id = :aid", aid=second)
    text = lines(verify(db))
    assert f"addendum {first.hex}: changed since it was written" in text
    assert f"recorded addendum {second.hex}, which no longer exists" in text


def test_a_truncated_audit_tail_is_named_by_the_anchor(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    with_addendum(db, mid, room["lead"])
    anchor = verify(db).anchor()
    last = scalar(db, "SELECT max(seq) FROM audit_event")
    tamper(db, "audit_event", "DELETE FROM audit_event WHERE seq = :seq", seq=last)
    report = verify(db, anchor=anchor)
    assert not report.audit_problems  # the shorter chain is still a chain ...
    assert "fewer than the" in lines(report)  # ... but shorter than the anchor
    assert "no audit entry sealed this addendum" in lines(report)


def test_the_last_audit_entry_rewritten_with_its_hash_recomputed_is_named_by_the_anchor(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)
    anchor = verify(db).anchor()
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT seq, occurred_at, actor, action, record_type, record_id, details, prev_hash FROM audit_event "
            "ORDER BY seq DESC LIMIT 1"
        ).first()
    details = {**audit_chain.plain_details(row[6]), "signer": str(uuid.uuid4())}
    digest = audit_chain.entry_hash(row[0], row[1], row[2], row[3], row[4], row[5], details, row[7])
    tamper(db, "audit_event", "UPDATE audit_event SET details = :d, entry_hash = :h WHERE seq = :seq",
           d=json.dumps(details), h=digest, seq=row[0])
    report = verify(db, anchor=anchor)
    assert not report.audit_problems  # the chain was recomputed ...
    assert f"audit entry seq {anchor.entries} is not the one anchored" in lines(report)  # ... the anchor was not


def test_a_keyed_anchor_cannot_be_forged_without_the_key(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)
    key = b"a key kept outside the database file"
    anchor = verify(db).anchor(key)
    assert verify(db, anchor=anchor, key=key).ok
    forged = integrity.Anchor(anchor.entries, anchor.head, integrity.Anchor.mac_for(anchor.entries, anchor.head, b"guessed key 0000"))
    assert "HMAC does not match" in lines(verify(db, anchor=forged, key=key))
    assert "give the key" in lines(verify(db, anchor=anchor))


def test_an_edited_snapshot_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    tamper(db, "signed_member", "UPDATE signed_member SET display_name = 'Someone Else' WHERE meeting_id = :mid", mid=mid)
    assert "the signed snapshot (names, goals, settings as signed) no longer matches its hash" in lines(verify(db))


def test_a_deleted_snapshot_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    tamper(db, "signed_member", "DELETE FROM signed_member WHERE meeting_id = :mid", mid=mid)
    tamper(db, "signed_snapshot", "DELETE FROM signed_snapshot WHERE meeting_id = :mid", mid=mid)
    assert "signed but has no signed snapshot" in lines(verify(db))


def test_a_signed_meeting_inserted_by_raw_sql_is_named(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    columns = sql_columns(db, "meeting")
    new = uuid.uuid4()
    pg = db.backend == "postgresql"
    shifted = {  # another slot: one meeting per group and scheduled start (uq_meeting_group_start)
        "id": ":new",
        "local_date": "local_date + 1" if pg else "local_date",
        "scheduled_start": "scheduled_start + interval '1 day'" if pg else "datetime(scheduled_start, '+1 day')",
        "scheduled_end": "scheduled_end + interval '1 day'" if pg else "datetime(scheduled_end, '+1 day')",
    }
    select = ", ".join(shifted.get(c, c) for c in columns)
    allowed(db, f"INSERT INTO meeting ({', '.join(columns)}) SELECT {select} FROM meeting WHERE id = :mid", mid=mid, new=new)
    text = lines(verify(db))
    assert f"meeting {new.hex}" in text and "no audit entry sealed this signature" in text
