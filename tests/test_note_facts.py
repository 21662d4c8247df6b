"""A member's note facts (services.note_facts): recorded, validated, locked and hashed when signed.

On SQLite and (when configured) PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlmodel import select

from iop_facilitator.enums import AttendanceStatus, RiskLevel
from iop_facilitator.errors import Conflict, EditConflict, InvalidInput
from iop_facilitator.models import AuditEvent, GroupMeeting
from iop_facilitator.services import canonical, integrity, live, members, note_facts, notes, safety
from tests.test_integrity import allowed, refused
from tests.test_live_services import START, complete_meeting, library, room, snap  # noqa: F401 - fixtures


def facts(db, room, name: str) -> note_facts.FactsView:  # noqa: F811
    with db.session() as s:
        return note_facts.load_facts(s, room["meeting"]).get(room["people"][name], note_facts.EMPTY)


def goals(db, room, name: str) -> list[str]:  # noqa: F811
    return [g.id for g in snap(db, room).member(room["people"][name]).goals]


def test_facts_are_saved_cleaned_and_validated(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, avery = room["meeting"], room["people"]["Avery T."]
    with db.begin() as s:
        note_facts.save_facts(
            s, mid, avery, participation="active", affect=["anxious", "tearful", "anxious"],
            presentation="  arrived\x1b[31m early,\n  well groomed ", substance_use="none",
            observation="Held eye contact while naming the argument with her brother.",
        )
    got = facts(db, room, "Avery T.")
    assert got.participation == "active" and got.affect == ("anxious", "tearful")
    assert got.presentation == "arrived early, well groomed"  # one line, no control sequences
    assert got.substance_use == "none" and got.observation.startswith("Held eye contact")
    with db.begin() as s:
        with pytest.raises(InvalidInput, match="participation level"):
            note_facts.save_facts(s, mid, avery, participation="enthusiastic")
        with pytest.raises(InvalidInput, match="affect"):
            note_facts.save_facts(s, mid, avery, affect=["grumpy"])
        with pytest.raises(InvalidInput, match="at most 300"):
            note_facts.save_facts(s, mid, avery, use_detail="x" * 301)
        with pytest.raises(InvalidInput, match="unknown note fact"):
            note_facts.save_facts(s, mid, avery, observation="x", based_on={"mood": "y"})
    with db.begin() as s:  # None clears a choice
        note_facts.save_facts(s, mid, avery, participation=None, affect=[])
    assert facts(db, room, "Avery T.").participation is None and facts(db, room, "Avery T.").affect == ()


def test_only_members_who_attended_have_facts(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, casey = room["meeting"], room["people"]["Casey R."]
    with db.begin() as s:
        live.mark(s, mid, casey, AttendanceStatus.absent_excused)
    with db.begin() as s, pytest.raises(InvalidInput, match="attended"):
        note_facts.save_facts(s, mid, casey, participation="active")


def test_endorsed_risk_screen_is_linked_to_the_members_safety_event(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, p = room["meeting"], room["people"]
    with db.begin() as s:
        with pytest.raises(InvalidInput, match="needs the safety event"):
            note_facts.save_facts(s, mid, p["Blake S."], risk_screen="endorsed")
        event = safety.record_event(s, mid, p["Blake S."], "passive thoughts")
        other = safety.record_event(s, mid, p["Drew P."], "")
    with db.begin() as s, pytest.raises(InvalidInput, match="this member"):
        note_facts.save_facts(s, mid, p["Blake S."], risk_screen="endorsed", safety_event_id=other.id)
    with db.begin() as s:  # prefill: from the meeting's events, never a guess for anyone else
        note_facts.save_facts(s, mid, p["Drew P."], risk_screen="denied")
        changed = note_facts.prefill(s, mid)
    assert changed == [p["Blake S."]]  # Drew's own screen is the leader's; Avery and Casey had no event
    blake = facts(db, room, "Blake S.")
    assert (blake.risk_screen, blake.safety_event_id) == ("endorsed", event.id)
    assert facts(db, room, "Drew P.").risk_screen == "denied" and facts(db, room, "Avery T.").risk_screen is None
    with db.begin() as s:  # denied unlinks the event; an event cannot hang on a denied screen
        note_facts.save_facts(s, mid, p["Blake S."], risk_screen="denied")
        with pytest.raises(InvalidInput, match="endorsed risk screen only"):
            note_facts.save_facts(s, mid, p["Blake S."], safety_event_id=event.id)
    assert facts(db, room, "Blake S.").safety_event_id is None
    with db.begin() as s:
        safety.set_disposition(s, event.id, risk_level=RiskLevel.low, disposition="Screened; plan reviewed.")
        safety.set_disposition(s, other.id, risk_level=RiskLevel.low, disposition="Checked in after group.")


def test_stale_edits_of_a_fact_are_refused(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, avery = room["meeting"], room["people"]["Avery T."]
    with db.begin() as s:
        note_facts.save_facts(s, mid, avery, observation="First words.", participation="minimal",
                              based_on={"observation": "", "participation": None})
    with db.begin() as s:  # another screen changed both meanwhile
        note_facts.save_facts(s, mid, avery, observation="Second words.", participation="active")
    with db.begin() as s, pytest.raises(EditConflict) as caught:
        note_facts.save_facts(s, mid, avery, observation="My words.", based_on={"observation": "First words."})
    assert (caught.value.mine, caught.value.theirs) == ("My words.", "Second words.")
    assert "observation" in str(caught.value) and "Second" not in str(caught.value)
    with db.begin() as s, pytest.raises(EditConflict):
        note_facts.save_facts(s, mid, avery, participation="listened", based_on={"participation": "minimal"})
    with db.begin() as s:  # the same edit arriving twice is no conflict
        note_facts.save_facts(s, mid, avery, participation="active", based_on={"participation": "minimal"})
    assert facts(db, room, "Avery T.").observation == "Second words."


def test_goals_and_progress(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)  # the draft addressed one goal each
    mid, avery = room["meeting"], room["people"]["Avery T."]
    first, second = goals(db, room, "Avery T.")
    with db.begin() as s:
        note_facts.set_goals(s, mid, avery, [first])
        note_facts.set_goal_progress(s, mid, avery, first, progress="no_change")
        # rating a goal the note did not address yet adds it
        note_facts.set_goal_progress(s, mid, avery, second, progress="improved", measure=" called sponsor 5 of 7 days ")
    line = snap(db, room).member(avery)
    assert list(line.note.goal_ids) == [first, second]
    got = facts(db, room, "Avery T.")
    assert [(g.goal_id, g.progress, g.measure) for g in got.goal_progress] == [
        (first, "no_change", ""), (second, "improved", "called sponsor 5 of 7 days")]
    with db.begin() as s, pytest.raises(EditConflict):
        note_facts.set_goal_progress(s, mid, avery, first, progress="worse", based_on={"progress": "improved"})
    with db.begin() as s:  # dropping a goal drops its progress
        note_facts.set_goals(s, mid, avery, [second])
    assert [g.goal_id for g in facts(db, room, "Avery T.").goal_progress] == [second]
    with db.begin() as s:
        blake_goal = members.goals_of(s, members.resolve_member(s, "Blake S."))[0].id
        with pytest.raises(InvalidInput, match="own treatment-plan goals"):
            note_facts.set_goal_progress(s, mid, avery, blake_goal, progress="improved")
        with pytest.raises(InvalidInput, match="own treatment-plan goals"):
            note_facts.set_goals(s, mid, avery, [str(blake_goal)])


def test_changes_are_audited_without_their_words(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, avery = room["meeting"], room["people"]["Avery T."]
    with db.begin() as s:
        note_facts.save_facts(s, mid, avery, observation="Secret words about the bakery.", substance_use="used",
                              use_detail="two beers Saturday")
        note_facts.save_facts(s, mid, avery, substance_use="used")  # no change: no entry
    with db.session() as s:
        entries = s.exec(select(AuditEvent).where(AuditEvent.action == "note.facts")).all()
    assert len(entries) == 1
    assert entries[0].details["fields"] == ["observation", "substance_use", "use_detail"]
    text = repr(entries[0].details)
    assert "bakery" not in text and "beers" not in text


def test_facts_are_locked_and_sealed_when_signed(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, avery = room["meeting"], room["people"]["Avery T."]
    first = goals(db, room, "Avery T.")[0]
    with db.begin() as s:
        note_facts.save_facts(s, mid, avery, participation="active", observation="Named two coping steps unprompted.")
        note_facts.set_goal_progress(s, mid, avery, first, progress="improved", measure="4 of 7 nights")
    with db.session() as s:
        with_facts = integrity.canonical_meeting(s, mid)
    assert b'"note_facts"' in with_facts and b'"v":3' in with_facts
    with db.begin() as s:
        notes.sign(s, mid, room["lead"], at=START + dt.timedelta(hours=4))
    report = integrity.verify_database(db)
    assert report.ok, report.lines()
    with db.begin() as s, pytest.raises(Conflict, match="signed"):
        note_facts.save_facts(s, mid, avery, observation="changed")
    with db.begin() as s, pytest.raises(Conflict, match="signed"):
        note_facts.set_goal_progress(s, mid, avery, first, progress="worse")
    refused(db, "UPDATE note_facts SET observation = 'rewritten' WHERE meeting_id = :mid", mid=mid)
    refused(db, "DELETE FROM note_facts WHERE meeting_id = :mid", mid=mid)
    refused(db, "INSERT INTO note_facts (id, created_at, updated_at, version, meeting_id, member_id, goal_progress, "
                "affect, presentation, use_detail, observation, behavior, data, assessment, subjective, objective, "
                "drafted) SELECT id, created_at, updated_at, 1, meeting_id, :blake, '{}', '[]', '', '', 'x', '', '', "
                "'', '', '', '{}' FROM note_facts WHERE meeting_id = :mid",
            mid=mid, blake=room["people"]["Blake S."])


def test_the_fast_verifier_hashes_a_meeting_with_facts_as_signing_did(db, room, library, monkeypatch) -> None:  # noqa: F811
    """``db verify``'s SQLite fast path (rows as JSON from SQLite) writes format 3 bytes itself:
    a signed meeting with facts matches without the value-by-value re-read."""
    complete_meeting(db, room, library)
    mid, avery = room["meeting"], room["people"]["Avery T."]
    first = goals(db, room, "Avery T.")[0]
    with db.begin() as s:
        note_facts.save_facts(s, mid, avery, participation="active", affect=["euthymic"],
                              observation="Named two coping steps unprompted.")
        note_facts.set_goal_progress(s, mid, avery, first, progress="improved", measure="4 of 7 nights")
        notes.sign(s, mid, room["lead"], at=START + dt.timedelta(hours=4))

    def reread(*_args, **_kwargs):
        raise AssertionError("the fast path's bytes differed from what signing sealed")

    monkeypatch.setattr(integrity._SqliteBatch, "_lenient_meeting", reread)
    report = integrity.verify_database(db, full=True)
    assert report.ok, report.lines()
    parts = {"attendance": ['[1]'], "note_facts": []}
    assert canonical.canonical_from_json('["m"]', parts) == (
        b'{"attendance":[[1]],"meeting":["m"],"progress_notes":[],"safety_events":[],"story_notes":[],"v":1}'
    )
    parts["note_facts"] = ['["f"]']
    assert canonical.canonical_from_json('["m"]', parts, "ab") == (
        b'{"attendance":[[1]],"meeting":["m"],"note_facts":[["f"]],"progress_notes":[],"safety_events":[],'
        b'"snapshot":"ab","story_notes":[],"v":3}'
    )


def test_a_meeting_without_facts_keeps_its_format(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    with db.session() as s:
        body = integrity.canonical_meeting(s, room["meeting"])
    assert b'"note_facts"' not in body and b'"v":1' in body  # as before schema 0013
    meeting = {"id": room["meeting"]}
    assert canonical.canonical_bytes(meeting, note_facts=[]) == canonical.canonical_bytes(meeting)


def test_facts_of_an_unsigned_meeting_stay_editable_by_sql(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    with db.begin() as s:
        note_facts.save_facts(s, room["meeting"], room["people"]["Avery T."], participation="active")
    assert allowed(db, "UPDATE note_facts SET presentation = 'calm' WHERE meeting_id = :mid", mid=room["meeting"]) == 1


# --------------------------------------------------------------------------- goal suggestions (pure)


def _goal(gid: str, position: int, text: str) -> SimpleNamespace:
    return SimpleNamespace(id=gid, position=position, text=text)


def test_goal_suggestion_follows_the_topic_not_goal_one(library) -> None:  # noqa: F811
    plan = [_goal("a", 1, "Sleep seven hours a night"), _goal("b", 2, "Use two stress management skills when stressed at work")]
    assert note_facts.suggest_goals(plan, library.get("handling-stress")) == ("b",)
    assert note_facts.suggest_goals([], library.get("handling-stress")) == ()


def test_goal_suggestion_rotates_when_the_topic_says_nothing() -> None:
    plan = [_goal("a", 1, "Sleep seven hours"), _goal("b", 2, "Call sponsor daily"), _goal("c", 3, "Attend meetings")]
    assert note_facts.suggest_goals(plan, None) == ("a",)
    last = {"a": dt.date(2026, 11, 20), "b": dt.date(2026, 11, 18)}
    assert note_facts.suggest_goals(plan, None, last_addressed=last) == ("c",)  # never addressed first
    last["c"] = dt.date(2026, 11, 19)
    assert note_facts.suggest_goals(plan, None, last_addressed=last) == ("b",)  # then the oldest


def test_last_addressed_reads_earlier_meetings_only(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    avery = room["people"]["Avery T."]
    with db.session() as s:
        meeting = s.get(GroupMeeting, room["meeting"])
        assert note_facts.last_addressed(s, [avery], before=meeting.scheduled_start) == {avery: {}}
        later = note_facts.last_addressed(s, [avery], before=meeting.scheduled_start + dt.timedelta(days=1))
    assert later[avery] == {goals(db, room, "Avery T.")[0]: meeting.local_date}


def test_reported_use_needs_a_plan_that_answers_it(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    mid, avery = room["meeting"], room["people"]["Avery T."]
    with db.begin() as s:
        note_facts.save_facts(s, mid, avery, substance_use="used", use_detail="two beers Saturday")
        notes.save_note(s, mid, avery, plan="Continue work on goal 1 at the next group.")
    gaps = notes.missing(snap(db, room))
    assert [g.key for g in gaps] == [f"use_plan:{avery}"]
    with db.begin() as s, pytest.raises(Conflict, match="answers the substance use"):
        notes.sign(s, mid, room["lead"])
    with db.begin() as s:  # the draft answers it; so does a leader's own plan that names the use
        notes.save_note(s, mid, avery, plan="Meet the counselor Monday about Saturday's drinking and a relapse plan.")
    assert notes.missing(snap(db, room)) == []
    with db.begin() as s:
        notes.save_note(s, mid, avery, plan="")
        notes.draft_notes(s, mid, library.get("handling-stress"), member_ids=[avery], narrative=False)
    assert "reported use" in snap(db, room).member(avery).note.plan and notes.missing(snap(db, room)) == []
