"""Transactions that mean it (issue 11.3): write locks, one meeting per start, stale edits refused.

Runs on SQLite and, when ``IOP_TEST_PG_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pendulum
import pytest
import sqlalchemy as sa
from sqlmodel import select

from iop_facilitator.enums import AttendanceStatus, RiskLevel
from iop_facilitator.errors import EditConflict, NotFound
from iop_facilitator.models import AuditEvent, GroupMeeting, StoryNote
from iop_facilitator.services import groups, live, live_read, members, notes, safety, settings, staff

DAY = dt.date(2026, 11, 23)  # a Monday
START = pendulum.datetime(2026, 11, 23, 9, 2, tz="America/Chicago").in_tz("UTC")


@pytest.fixture
def room(db):
    with db.begin() as s:
        settings.update_settings(s, timezone="America/Chicago")
        lead = staff.add_staff(s, "Dana Quinn", "LCSW")
        group = groups.add_group(s, "Evening IOP", weekdays="mon,wed,fri", start_time="09:00", facilitators=[lead])
        avery = members.add_member(s, "Avery T.", goals=["Sleep seven hours"])
        members.enroll(s, avery, group, DAY - dt.timedelta(days=30))
    return {"group": group.id, "lead": lead.id, "avery": avery.id}


def started(db, room) -> dict:
    with db.begin() as s:
        group = s.get_one(groups.Group, room["group"])
        meeting = live.start_meeting(s, group, DAY, now=START)
        live.mark(s, meeting.id, room["avery"], AttendanceStatus.present, at=START)
    return {**room, "meeting": meeting.id}


# --------------------------------------------------------------------------- the write transaction


def test_database_begin_holds_the_write_lock_from_the_first_read(db) -> None:
    """SQLite: ``Database.begin()`` starts with BEGIN IMMEDIATE; a second writer waits for it."""
    if db.backend != "sqlite":
        pytest.skip("PostgreSQL has row locks instead (see the start-meeting race below)")
    import sqlite3

    with db.begin() as s:
        s.exec(select(GroupMeeting)).all()  # only a read so far
        other = sqlite3.connect(str(db.path), timeout=0.05, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


def test_plain_sessions_read_one_consistent_snapshot(db, room) -> None:
    """A read session sees one state for all its reads, not whatever was committed in between."""
    with db.session() as reader:
        before = len(reader.exec(select(staff.Staff)).all())
        with db.begin() as writer:
            staff.add_staff(writer, "Robin Lee", "LPC")
        during = len(reader.exec(select(staff.Staff)).all())
    with db.session() as after:
        assert len(after.exec(select(staff.Staff)).all()) == before + 1
    if db.backend == "sqlite":  # SQLite transactions are serializable: the snapshot holds
        assert during == before


def test_migrations_run_ddl_inside_the_transaction(db, monkeypatch) -> None:
    """The begin hook puts DDL in the transaction: a rolled-back CREATE TABLE leaves nothing."""
    with pytest.raises(RuntimeError):
        with db.engine.connect() as conn:
            with conn.begin():
                conn.exec_driver_sql("CREATE TABLE iop_probe (x INTEGER)")
                raise RuntimeError("interrupted")
    assert "iop_probe" not in sa.inspect(db.engine).get_table_names()


# --------------------------------------------------------------------------- two leaders press start


def _race(db, room, monkeypatch, attempts: int = 2) -> list:
    """``attempts`` threads start today's meeting at the same moment; the insert is slowed down
    so that, without a lock, every one of them would find no meeting and create its own."""
    from iop_facilitator.services import meetings

    real = meetings.create_meeting

    def slow_create(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        time.sleep(0.3)  # not a wait: widens the race window the lock must close
        return real(*args, **kwargs)

    monkeypatch.setattr(meetings, "create_meeting", slow_create)
    barrier = threading.Barrier(attempts)
    results: list = []
    errors: list = []

    def leader() -> None:
        try:
            barrier.wait(5)
            with db.begin() as s:
                group = s.get_one(groups.Group, room["group"])
                results.append(live.start_meeting(s, group, DAY, now=START).id)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=leader) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return results


def test_two_leaders_pressing_start_together_get_one_meeting(db, room, monkeypatch) -> None:
    results = _race(db, room, monkeypatch, attempts=3)
    assert len(results) == 3 and len(set(results)) == 1
    with db.session() as s:
        assert len(s.exec(select(GroupMeeting)).all()) == 1
        actions = [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions.count("meeting.create") == 1 and actions.count("meeting.start") == 1


def test_the_database_refuses_a_second_meeting_at_the_same_start(db, room) -> None:
    """The unique index is the backstop for any path that skips the service's lock."""
    meeting = started(db, room)
    with pytest.raises(sa.exc.IntegrityError):
        with db.begin() as s:
            first = s.get_one(GroupMeeting, meeting["meeting"])
            s.add(GroupMeeting(group_id=first.group_id, local_date=first.local_date,
                               scheduled_start=first.scheduled_start, scheduled_end=first.scheduled_end))
            s.flush()


# --------------------------------------------------------------------------- stale edits


def test_narrative_edit_based_on_an_old_version_is_refused_with_both_texts(db, room) -> None:
    meeting = started(db, room)["meeting"]
    with db.begin() as s:
        live.set_narrative(s, meeting, "Group discussed triggers.", based_on="")
    with db.begin() as s:  # the other screen saves first
        live.set_narrative(s, meeting, "Group discussed triggers and sleep.", based_on="Group discussed triggers.")
    with pytest.raises(EditConflict) as conflict:
        with db.begin() as s:
            live.set_narrative(s, meeting, "Group discussed triggers; two shared.", based_on="Group discussed triggers.")
    err = conflict.value
    assert (err.field, err.mine, err.theirs, err.base) == (
        "narrative", "Group discussed triggers; two shared.", "Group discussed triggers and sleep.",
        "Group discussed triggers.",
    )
    assert "triggers" not in str(err) and "changed by someone else" in str(err)  # no health information
    with db.session() as s:
        assert live_read.load_snapshot(s, meeting).narrative == "Group discussed triggers and sleep."


def test_an_edit_based_on_the_stored_text_saves_and_old_callers_still_work(db, room) -> None:
    meeting = started(db, room)["meeting"]
    with db.begin() as s:
        live.set_homework(s, meeting, "  Write one trigger down. ", based_on="")
        live.set_homework(s, meeting, "Write two triggers down.", based_on="Write one trigger down.  ")  # stored form
        live.set_topic_notes(s, meeting, "Prompt 2 went well.", based_on="")
        live.set_narrative(s, meeting, "Without a base: saved as before.")
    with db.begin() as s:  # the same edit arriving twice is not a conflict
        live.set_homework(s, meeting, "Write two triggers down.", based_on="Write one trigger down.")
    snap = _snap(db, meeting)
    assert (snap.homework, snap.topic_notes, snap.narrative) == (
        "Write two triggers down.", "Prompt 2 went well.", "Without a base: saved as before.")


def _snap(db, meeting):
    with db.session() as s:
        return live_read.load_snapshot(s, meeting)


@pytest.mark.parametrize("field", ["intervention", "response", "plan"])
def test_note_fields_check_their_own_base(db, room, field: str) -> None:
    m = started(db, room)
    with db.begin() as s:
        notes.save_note(s, m["meeting"], m["avery"], **{field: "first"}, based_on={field: ""})
    with db.begin() as s:  # another field changing meanwhile is no conflict for this one
        other = "plan" if field != "plan" else "response"
        notes.save_note(s, m["meeting"], m["avery"], **{other: "theirs"}, based_on={other: ""})
        notes.save_note(s, m["meeting"], m["avery"], **{field: "second"}, based_on={field: "first"})
    with pytest.raises(EditConflict) as conflict:
        with db.begin() as s:
            notes.save_note(s, m["meeting"], m["avery"], **{field: "stale"}, based_on={field: "first"})
    assert conflict.value.field == f"note.{field}" and conflict.value.theirs == "second"
    line = _snap(db, m["meeting"]).member(m["avery"])
    assert getattr(line.note, field) == "second"


def test_note_goals_conflict_and_a_new_note_compares_as_empty(db, room) -> None:
    m = started(db, room)
    with db.session() as s:
        goal = _snap(db, m["meeting"]).member(m["avery"]).goals[0].id
    with pytest.raises(EditConflict):
        with db.begin() as s:  # the screen believed there was text; there is no note at all yet
            notes.save_note(s, m["meeting"], m["avery"], response="mine", based_on={"response": "old"})
    with db.begin() as s:
        notes.save_note(s, m["meeting"], m["avery"], goal_ids=[goal], based_on={"goal_ids": []})
    with pytest.raises(EditConflict) as conflict:
        with db.begin() as s:
            notes.save_note(s, m["meeting"], m["avery"], goal_ids=[], based_on={"goal_ids": []})
    assert conflict.value.field == "note.goal_ids"


def test_story_edit_and_delete_refuse_a_stale_base(db, room) -> None:
    m = started(db, room)
    with db.begin() as s:
        story = live.add_story(s, m["meeting"], m["avery"], "Talked about a hard week.").id
    with db.begin() as s:
        live.update_story(s, story, "Talked about a hard week at work.", based_on="Talked about a hard week.")
    with pytest.raises(EditConflict) as conflict:
        with db.begin() as s:
            live.update_story(s, story, "", based_on="Talked about a hard week.")  # delete of a changed note
    assert conflict.value.theirs == "Talked about a hard week at work."
    with db.begin() as s:
        assert live.update_story(s, story, "", based_on="Talked about a hard week at work.") is None
    with pytest.raises(EditConflict) as gone:
        with db.begin() as s:
            live.update_story(s, story, "New text", based_on="Talked about a hard week at work.")
    assert gone.value.theirs is None and "deleted" in str(gone.value)
    with pytest.raises(NotFound):  # without a base: the old message
        with db.begin() as s:
            live.update_story(s, story, "New text")
    with db.session() as s:
        assert s.exec(select(StoryNote)).all() == []


def test_takeaway_and_disposition_check_their_bases(db, room) -> None:
    m = started(db, room)
    with db.begin() as s:
        live.set_checkout(s, m["meeting"], m["avery"], takeaway="Call my sponsor.", takeaway_based_on="")
        event = safety.record_event(s, m["meeting"], m["avery"], "Mentioned a rough night.").id
        safety.set_disposition(s, event, risk_level=RiskLevel.low, disposition="Screened.", disposition_based_on="")
    with pytest.raises(EditConflict) as takeaway:
        with db.begin() as s:
            live.set_checkout(s, m["meeting"], m["avery"], takeaway="Walk daily.", takeaway_based_on="")
    assert takeaway.value.field == "takeaway"
    with pytest.raises(EditConflict) as disposition:
        with db.begin() as s:
            safety.set_disposition(s, event, risk_level=RiskLevel.low, disposition="Other.", disposition_based_on="")
    assert disposition.value.field == "safety.disposition"
    with pytest.raises(EditConflict):
        with db.begin() as s:
            safety.set_disposition(s, event, risk_level=RiskLevel.low, disposition="Screened.",
                                   concern="Edited", concern_based_on="Something else")


def test_two_screens_saving_the_narrative_at_once_never_lose_one_silently(db, room) -> None:
    """Two writers, each based on the same version: exactly one saves, the other gets the conflict."""
    meeting = started(db, room)["meeting"]
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def screen(name: str) -> None:
        barrier.wait(5)
        try:
            with db.begin() as s:
                live.set_narrative(s, meeting, f"written by {name}", based_on="")
            outcome[name] = "saved"
        except EditConflict as exc:
            outcome[name] = f"conflict:{exc.theirs}"

    threads = [threading.Thread(target=screen, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcome.values())[0].startswith("conflict:written by ")
    assert sorted(outcome.values())[1] == "saved"
    winner = next(n for n, v in outcome.items() if v == "saved")
    assert _snap(db, meeting).narrative == f"written by {winner}"
