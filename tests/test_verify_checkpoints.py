"""``iop db verify`` checkpoints (issue 14): incremental by default, ``full`` checks everything.

On SQLite and PostgreSQL. The threat model (README, "Record integrity"): an incremental run
checks what was written after the newest checkpoint and the checkpoints themselves; an
edit behind the triggers' back to a row sealed before the checkpoint is found by a full run.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from iop_facilitator.services import checkpoints, integrity
from iop_facilitator.services import staff as staff_service
from tests.test_live_services import START, library, room  # noqa: F401 - fixtures
from tests.torture.tamper_helpers import cosigned, lines, one_child, scalar, sign, supervisor, tamper

NOW = dt.timedelta(0)  # no settling time: the history written so far is in the checkpoint


def check(db, **kwargs) -> integrity.VerifyReport:
    """``iop db verify`` as the command runs it: incremental, a clean result recorded."""
    kwargs.setdefault("full", False)
    return integrity.verify_database(db, checkpoint=True, history_settle=NOW, **kwargs)


def stored(db) -> list[checkpoints.Checkpoint]:
    with db.engine.connect() as conn:
        return checkpoints.read_all(conn)


def edit_staff(db, credentials: str) -> None:
    with db.begin() as s:
        staff_service.update_staff(s, staff_service.resolve_staff(s, "Dana Quinn").id, credentials=credentials)


def test_the_first_run_is_full_and_later_ones_check_only_what_is_new(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)
    first = check(db)
    assert first.ok and first.mode == "full" and first.meetings_checked == 1 and first.checkpoint_written == 1
    second = check(db)
    assert second.ok, lines(second)
    assert second.mode == "incremental" and second.since_checkpoint == 1 and second.meetings_checked == 0
    assert second.entries_checked == 1  # the first checkpoint's own audit entry
    assert second.checkpoint_written == 2
    [one, two] = stored(db)
    assert two.prev_hash == one.checkpoint_hash and two.meetings == one.meetings == 1
    assert two.audit_seq == one.audit_seq + 1
    assert checkpoints.chain_problems([one, two]) == []
    full = check(db, full=True)
    assert full.ok and full.mode == "full" and full.meetings_checked == 1 and full.checkpoint_written == 3


def test_a_meeting_signed_after_the_checkpoint_is_checked_and_tampering_with_it_named(db, room, library) -> None:  # noqa: F811
    assert check(db).ok  # nothing signed yet
    mid = sign(db, room, library)
    report = check(db)
    assert report.ok and report.mode == "incremental" and report.meetings_checked == 1
    note = one_child(db, "progress_note", mid)
    tamper(db, "progress_note", "UPDATE progress_note SET response = 'rewritten' WHERE id = :nid", nid=note)
    # Sealed before the newest checkpoint: the incremental run does not read it again ...
    assert check(db).ok
    # ... the full run does, and records nothing while something is wrong.
    before = len(stored(db))
    full = check(db, full=True)
    assert not full.ok and "content no longer matches the hash taken at signing" in lines(full)
    assert full.checkpoint_written is None and len(stored(db)) == before


def test_an_incremental_run_names_a_record_sealed_since_and_changed(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    assert check(db).ok
    boss = supervisor(db)
    from iop_facilitator.services import cosign as cosign_service

    with db.begin() as s:
        cosign_service.cosign(s, mid, boss, at=START + dt.timedelta(days=1))
    tamper(db, "signed_cosign", "UPDATE signed_cosign SET cosigner_name = 'Someone Else' WHERE meeting_id = :mid", mid=mid)
    report = check(db)
    assert report.mode == "incremental" and not report.ok
    assert "the co-signature record no longer matches its hash" in lines(report)


def test_an_edited_checkpoint_breaks_its_chain(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)
    assert check(db).ok and check(db).ok
    with db.engine.begin() as conn:  # move the verified point forward, hiding entries from later runs
        conn.execute(sa.text("UPDATE verify_checkpoint SET audit_seq = audit_seq + 1 WHERE seq = 2"))
    report = check(db)
    assert not report.ok and report.checkpoint_written is None
    assert "verify checkpoint 2: was changed after it was written" in lines(report)
    full = check(db, full=True)
    assert "verify checkpoint 2: was changed after it was written" in lines(full)


def test_a_forged_checkpoint_with_a_recomputed_hash_is_named_by_its_audit_entry(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)
    assert check(db).ok
    [cp] = stored(db)
    forged = checkpoints.Checkpoint(**{**cp.__dict__, "meetings": cp.meetings + 5, "checkpoint_hash": ""})
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE verify_checkpoint SET meetings = :n, checkpoint_hash = :h WHERE seq = 1"),
                     {"n": forged.meetings, "h": forged.computed_hash()})
    report = check(db)
    assert not report.ok
    assert "records verify checkpoint 1 with a hash it no longer has" in lines(report)


def test_a_removed_newest_checkpoint_is_named(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)
    assert check(db).ok and check(db).ok
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM verify_checkpoint WHERE seq = 2"))
    report = check(db)
    assert not report.ok and "records verify checkpoint 2, which no longer exists" in lines(report)


def test_rewriting_the_chain_below_the_checkpoint_is_named(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)
    assert check(db).ok
    [cp] = stored(db)
    tamper(db, "audit_event", "UPDATE audit_event SET actor = 'someone else' WHERE seq = :seq", seq=cp.audit_seq)
    report = check(db)
    assert f"audit entry seq {cp.audit_seq} changed after it verified it" in lines(report)
    tamper(db, "audit_event", "UPDATE audit_event SET actor = 'someone else' WHERE seq = 1")
    assert "audit entry seq 1: its contents changed" in lines(check(db, full=True))


def test_a_signed_meeting_removed_behind_the_checkpoint_is_counted(db, room, library) -> None:  # noqa: F811
    mid = sign(db, room, library)
    assert check(db).ok
    for table in ("attendance", "progress_note", "story_note", "safety_event", "signed_member", "signed_snapshot"):
        tamper(db, table, f"DELETE FROM {table} WHERE meeting_id = :mid", mid=mid)
    tamper(db, "meeting", "DELETE FROM meeting WHERE id = :mid", mid=mid)
    text = lines(check(db))
    assert "0 signed meeting(s) now, 1 expected" in text and "0 signed snapshot(s) now, 1 expected" in text
    assert f"signed meeting {mid.hex}, which is no longer signed or no longer exists" in lines(check(db, full=True))


def test_row_history_is_digested_and_changes_before_the_checkpoint_are_named(db, room, library) -> None:  # noqa: F811
    base = scalar(db, "SELECT count(*) FROM row_history")
    edit_staff(db, "LCSW-S")
    edit_staff(db, "LCSW-C")
    first = check(db)
    assert first.ok
    [cp] = stored(db)
    assert cp.history_rows == base + 2 and cp.history_digest
    edit_staff(db, "LICSW")  # after the checkpoint: digested by the next one
    assert check(db).ok
    assert stored(db)[-1].history_rows == base + 3
    rid = scalar(db, "SELECT id FROM row_history ORDER BY created_at LIMIT 1")
    tamper(db, "row_history", "UPDATE row_history SET operation = 'delete' WHERE id = :rid", rid=rid)
    assert check(db).ok  # an edit in place before the checkpoint: only a full run reads it again
    full = check(db, full=True)
    assert "the row history written before it was changed, added to or removed from" in lines(full)
    tamper(db, "row_history", "DELETE FROM row_history WHERE id = :rid", rid=rid)
    assert f"the row history written before it has {base + 2} rows, it counted {base + 3}" in lines(check(db))


def test_a_bulk_anchor_since_the_checkpoint_makes_the_run_full(db, room, library) -> None:  # noqa: F811
    mid, _boss = cosigned(db, room, library)
    assert check(db).ok
    from iop_facilitator.services import audit

    with db.begin() as s:  # as the upgrade to snapshots or the demo seed writes
        audit.record(s, "integrity.backfill", digest="0" * 64, anchor="x" * 32, meetings=0)
    report = check(db)
    assert report.mode == "full" and report.meetings_checked == 1
    assert mid.hex in {m for m in report_meetings(db)}


def report_meetings(db) -> set[str]:
    seen = integrity._Seen()
    with db.engine.connect() as conn:
        integrity.verify_meetings(conn, integrity.VerifyReport(), seen)
    return set(seen.meetings)


def test_a_verification_stopped_halfway_records_nothing(db, room, library) -> None:  # noqa: F811
    sign(db, room, library)

    def stop(done: int, total: int | None) -> None:
        if done:
            raise KeyboardInterrupt  # Ctrl+C, or the process killed, mid-way

    with pytest.raises(KeyboardInterrupt):
        integrity.verify_database(db, full=True, checkpoint=True, progress=stop)
    assert stored(db) == []
    assert scalar(db, f"SELECT count(*) FROM audit_event WHERE action = '{checkpoints.ACTION}'") == 0
    assert check(db).checkpoint_written == 1


def test_a_read_only_database_is_verified_without_a_checkpoint(db, room, library, monkeypatch) -> None:  # noqa: F811
    sign(db, room, library)
    monkeypatch.setattr(db, "read_only", "the file is read-only", raising=False)
    report = check(db)
    assert report.ok and report.checkpoint_written is None and "read-only" in report.summary()
    assert stored(db) == []


def test_values_stored_in_another_form_are_hashed_leniently_before_anything_is_reported(db, room, library) -> None:  # noqa: F811
    """SQLite writes each row's JSON for speed; a row raw SQL stored differently (JSON spacing,
    a time in ISO form) but with the same values still verifies."""
    if db.backend != "sqlite":
        pytest.skip("the SQLite fast path")
    mid = sign(db, room, library)
    note = one_child(db, "progress_note", mid)
    with db.engine.connect() as conn:
        goals = conn.execute(sa.text("SELECT goal_ids FROM progress_note WHERE id = :n").bindparams(
            sa.bindparam("n", type_=sa.Uuid())), {"n": note}).scalar()
    import json

    spaced = json.dumps(json.loads(goals), indent=2)
    tamper(db, "progress_note", "UPDATE progress_note SET goal_ids = :g WHERE id = :nid", g=spaced, nid=note)
    tamper(db, "attendance", "UPDATE attendance SET arrived_at = replace(arrived_at, ' ', 'T') || '+00:00' "
                             "WHERE meeting_id = :mid AND arrived_at IS NOT NULL", mid=mid)
    report = integrity.verify_database(db)
    assert report.ok, lines(report)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE progress_note SET response = 'rewritten' WHERE id = '{note.hex}'")
    assert "content no longer matches the hash taken at signing" in lines(integrity.verify_database(db))


def test_a_checkpoint_that_cannot_be_written_does_not_fail_the_verification(db, room, library, monkeypatch) -> None:  # noqa: F811
    from iop_facilitator.errors import StorageFull

    sign(db, room, library)

    def full(_session, _values):
        raise StorageFull("the disk is full")

    monkeypatch.setattr(checkpoints, "write", full)
    report = check(db)
    assert report.ok and report.checkpoint_written is None
    assert "not recorded: the disk is full" in report.summary()
