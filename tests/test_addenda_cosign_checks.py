"""Addenda, supervisor co-signature and sign-time checks, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from iop_facilitator.enums import AttendanceStatus, RiskLevel, StaffRole
from iop_facilitator.errors import Conflict, InvalidInput
from iop_facilitator.models import Addendum, AuditEvent, GroupMeeting
from iop_facilitator.services import (
    addenda,
    cosign,
    groups,
    home,
    live,
    members,
    names,
    note_facts,
    notes,
    payer_lens,
    safety,
    signcheck,
    staff,
)
from tests.test_live_services import DAY, START, complete_meeting, library, room, snap  # noqa: F401 - fixtures

AVERY_RESPONSE = ("Avery described walking the river trail at dawn instead of stopping at the liquor store. "
                  "She linked the urge to payday and planned to hand her card to her sister.")
BLAKE_RESPONSE = ("Blake talked about repairing an old bicycle with a neighbor to fill Friday evenings. "
                  "He named boredom as his main trigger and asked for feedback on weekend plans.")
CASEY_RESPONSE = ("Casey was quiet at first, then shared a conflict with a roommate over chores. "
                  "She practised an I-statement in a role play and said it felt awkward but useful.")
DREW_RESPONSE = ("Drew reported two sober weeks and credited the morning meetings at the clinic. "
                 "He worried about a family wedding with an open bar next month.")
CLONED = "Member was engaged and receptive to feedback from peers throughout the whole discussion."


def write_notes(db, room, responses: dict[str, str], plan: str = "Continue IOP group per treatment plan.") -> None:  # noqa: F811
    view = snap(db, room)
    with db.begin() as s:
        for line in view.attended:
            name = line.display_name
            notes.save_note(s, room["meeting"], line.member_id, goal_ids=[line.goals[0].id],
                            intervention="Facilitated group on stress using psychoeducation.",
                            response=responses.get(name, f"{name} listened."), plan=plan)


def signed_meeting(db, room, library, *, signer=None):  # noqa: F811  # noqa: F811
    complete_meeting(db, room, library)
    write_notes(db, room, {"Avery T.": AVERY_RESPONSE, "Blake S.": BLAKE_RESPONSE,
                           "Casey R.": CASEY_RESPONSE, "Drew P.": DREW_RESPONSE})
    with db.begin() as s:
        notes.sign(s, room["meeting"], signer or room["lead"], at=START + dt.timedelta(hours=4))


def actions(db, name: str) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == name)))


# --------------------------------------------------------------------------- addenda


def test_addendum_refused_on_an_unsigned_meeting(db, room) -> None:  # noqa: F811
    with db.begin() as s, pytest.raises(Conflict, match="edit the draft"):
        addenda.add_addendum(s, room["meeting"], room["lead"], reason="typo", text="fix")


def test_addendum_is_stored_listed_audited_and_cleaned(db, room, library) -> None:  # noqa: F811
    signed_meeting(db, room, library)
    avery = room["people"]["Avery T."]
    with db.begin() as s:
        with pytest.raises(InvalidInput, match="reason"):
            addenda.add_addendum(s, room["meeting"], room["lead"], reason="  ", text="x")
        with pytest.raises(InvalidInput, match="text"):
            addenda.add_addendum(s, room["meeting"], room["lead"], reason="late entry", text="\x1b[2J\x00 ")
        row = addenda.add_addendum(
            s, room["meeting"], room["lead"], reason="Late entry\x1b]0;evil\x07",
            text="Avery also reported\x00 a \x1b[31mnew\x1b[0m job.\nSecond line.", member_id=avery,
        )
        ident = row.id
    with db.begin() as s:
        addenda.add_addendum(s, room["meeting"], room["lead"], reason="Clarification", text="Group ran long.")
    with db.session() as s:
        listed = addenda.list_addenda(s, room["meeting"])
    assert listed[0].id == ident
    first = listed[0]
    assert first.reason == "Late entry"
    assert first.text == "Avery also reported a new job.\nSecond line."
    assert (first.author, first.author_credentials, first.member_name) == ("Dana Quinn", "LCSW", "Avery T.")
    assert listed[1].member_id is None
    # The original is untouched and the snapshot shows both addenda after it.
    view = snap(db, room)
    assert view.member(avery).note.response == AVERY_RESPONSE
    assert [a.reason for a in view.addenda] == ["Late entry", "Clarification"]
    events = actions(db, "meeting.addendum")
    assert len(events) == 2
    assert all("Avery" not in str(e.details) and "job" not in str(e.details) for e in events)
    assert events[0].details["meeting"] == str(room["meeting"])


def test_addendum_author_needs_credentials_and_member_must_be_in_the_meeting(db, room, library) -> None:  # noqa: F811
    signed_meeting(db, room, library)
    with db.begin() as s:
        intern = staff.add_staff(s, "Sam Intern")
        stranger = members.add_member(s, "Zed Q.")
        stranger_id, intern_id = stranger.id, intern.id
    with db.begin() as s, pytest.raises(InvalidInput, match="credentials"):
        addenda.add_addendum(s, room["meeting"], intern_id, reason="r", text="t")
    with db.begin() as s, pytest.raises(InvalidInput, match="no part"):
        addenda.add_addendum(s, room["meeting"], room["lead"], reason="r", text="t", member_id=stranger_id)
    with db.session() as s:
        assert s.exec(select(Addendum)).all() == []


# --------------------------------------------------------------------------- co-signature


def test_cosign_rules(db, room, library) -> None:  # noqa: F811
    with db.begin() as s:
        intern = staff.add_staff(s, "Sam Intern", "MSW intern", requires_cosign=True)
        boss = staff.add_staff(s, "Riley Boss", "LCSW-S", StaffRole.supervisor)
        peer = staff.add_staff(s, "Pat Peer", "LPC")
        nocred = staff.add_staff(s, "Lee Admin", "", StaffRole.admin)
        ids = {"intern": intern.id, "boss": boss.id, "peer": peer.id, "nocred": nocred.id}
    with db.begin() as s, pytest.raises(Conflict, match="sign it first"):
        cosign.cosign(s, room["meeting"], ids["boss"])
    signed_meeting(db, room, library, signer=ids["intern"])
    view = snap(db, room)
    assert view.requires_cosign and view.awaiting_cosign
    with db.session() as s:
        assert cosign.awaiting_cosign_ids(s) == {room["meeting"]}
        overview = home.overview(s, now=START + dt.timedelta(hours=5))
    waiting = [m for m in overview.open_meetings if m.meeting_id == room["meeting"]]
    assert [home.status_text(m.status) for m in waiting] == ["awaiting co-signature"]
    with db.begin() as s, pytest.raises(Conflict, match="supervisor"):
        cosign.cosign(s, room["meeting"], ids["peer"])
    with db.begin() as s, pytest.raises(InvalidInput, match="credentials"):
        cosign.cosign(s, room["meeting"], ids["nocred"])
    with db.begin() as s:
        staff.update_staff(s, ids["intern"], role=StaffRole.supervisor)
    with db.begin() as s, pytest.raises(Conflict, match="own note"):
        cosign.cosign(s, room["meeting"], ids["intern"])
    with db.begin() as s:
        cosign.cosign(s, room["meeting"], ids["boss"], at=START + dt.timedelta(hours=6))
    with db.begin() as s, pytest.raises(Conflict, match="already co-signed"):
        cosign.cosign(s, room["meeting"], ids["boss"])
    view = snap(db, room)
    assert (view.cosigner, view.cosigner_credentials) == ("Riley Boss", "LCSW-S")
    assert not view.awaiting_cosign
    with db.session() as s:
        assert cosign.awaiting_cosign_ids(s) == set()
        m = s.get_one(GroupMeeting, room["meeting"])
        assert m.cosigned_by_id == ids["boss"]
    [event] = actions(db, "meeting.cosign")
    assert event.record_id == str(room["meeting"]) and event.details["cosigner"] == str(ids["boss"])
    assert len(event.details["cosign_hash"]) == 64  # what verify matches the co-signature against


def test_meeting_led_by_someone_needing_cosign_is_pending_even_if_signed_by_another(db, room, library) -> None:  # noqa: F811
    with db.begin() as s:
        staff.update_staff(s, room["lead"], requires_cosign=True)
        other = staff.add_staff(s, "Mo Licensed", "LPC").id
    signed_meeting(db, room, library, signer=other)
    assert snap(db, room).awaiting_cosign


def test_meeting_without_requirement_is_not_pending(db, room, library) -> None:  # noqa: F811
    signed_meeting(db, room, library)
    view = snap(db, room)
    assert not view.requires_cosign and not view.awaiting_cosign
    with db.session() as s:
        assert cosign.awaiting_cosign_ids(s) == set()


# --------------------------------------------------------------------------- sign-time checks (pure)


def test_sentences_and_thresholds() -> None:
    a = payer_lens.split_sentences("First one here. Second one!\nThird? ")
    assert a == ["First one here.", "Second one!", "Third?"]
    assert payer_lens.normalise("Avery’s  GOOD, day!") == "avery s good day"
    assert payer_lens.is_stock("Continue PHP group per treatment plan.")
    # Short boilerplate is never a "repeated sentence".
    assert payer_lens.repeated_sentences(["Member attended."], ["Member attended."]) == ()
    repeated, _ratio, flagged = payer_lens.compare([CLONED, "Avery is fine."], [CLONED.upper(), "Blake is ok."])
    assert repeated == (CLONED,) and flagged
    distinct = payer_lens.compare(payer_lens.split_sentences(AVERY_RESPONSE), payer_lens.split_sentences(BLAKE_RESPONSE))
    assert distinct[0] == () and distinct[1] < payer_lens.SIMILARITY_THRESHOLD and not distinct[2]


def test_names_and_initials() -> None:
    import uuid

    a, b, c, d = (uuid.uuid4() for _ in range(4))
    patterns = names.name_patterns([(a, "Avery T."), (b, "Blake S."), (c, "Will R."), (d, "Blake M.")])
    text = "Avery T. and later avery spoke; blake s. too. Blakely agreed. I will go. Will helped."
    found = [w for _p, w in names.find_names(text, patterns, own=c)]
    # Display names and unambiguous first names, word-bounded; "Blake" is shared so only the full name counts.
    assert found == ["Avery T.", "avery", "blake s."]
    found_by_a = [w for _p, w in names.find_names(text, patterns, own=a)]
    assert "Will" in found_by_a and "will" not in found_by_a  # a common word only when capitalised
    assert names.replace_names(text, patterns, own=c) == (
        "A.T. and later A.T. spoke; B.S. too. Blakely agreed. I will go. Will helped."
    )
    assert names.initials("Mary Ann") == "M.A."


# --------------------------------------------------------------------------- sign-time checks (database)


def kinds(findings) -> list[str]:
    return [f.kind for f in findings]


def test_similar_pair_is_flagged_with_the_repeated_sentence(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    write_notes(db, room, {
        "Avery T.": f"Avery spoke about the river trail. {CLONED}",
        "Blake S.": f"Blake spoke about his bicycle. {CLONED}",
        "Casey R.": CASEY_RESPONSE, "Drew P.": DREW_RESPONSE,
    })
    with db.session() as s:
        findings = signcheck.sign_checks(s, room["meeting"])
    similar = [f for f in findings if f.kind == signcheck.Kind.SIMILAR]
    assert len(similar) == 1, findings
    p = room["people"]
    assert {similar[0].member_id, similar[0].other_member_id} == {p["Avery T."], p["Blake S."]}
    assert similar[0].sentences == (CLONED,)
    assert not similar[0].blocking
    # The shared topic intervention and the stock plan sentence are not cloning.
    assert all("Facilitated" not in s for f in findings for s in f.sentences)


def test_distinct_notes_are_not_flagged(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    write_notes(db, room, {"Avery T.": AVERY_RESPONSE, "Blake S.": BLAKE_RESPONSE,
                           "Casey R.": CASEY_RESPONSE, "Drew P.": DREW_RESPONSE})
    with db.session() as s:
        assert signcheck.sign_checks(s, room["meeting"]) == []


def test_same_member_as_last_time_is_flagged(db, room, library) -> None:  # noqa: F811
    signed_meeting(db, room, library)
    with db.begin() as s:
        group = groups.resolve_group(s, "Evening IOP")
        later = live.start_meeting(s, group, DAY + dt.timedelta(days=2), now=START + dt.timedelta(days=2))
        for pid in room["people"].values():
            live.mark(s, later.id, pid, AttendanceStatus.present)
        next_id = later.id
    nxt = {**room, "meeting": next_id}
    write_notes(db, nxt, {"Avery T.": AVERY_RESPONSE.replace("payday", "Friday"),  # nearly last week's note
                          "Blake S.": "Blake brought a new worry about his job interview and rehearsed answers "
                                      "with two peers, then chose a calming routine for the night before.",
                          "Casey R.": "Casey celebrated finishing the chores chart with her roommate and "
                                      "described feeling proud of holding a boundary calmly this week.",
                          "Drew P.": "Drew said the wedding went well; he left before the toasts and called "
                                     "his sponsor from the car, which he wants to repeat next time."})
    with db.session() as s:
        findings = signcheck.sign_checks(s, next_id)
    assert kinds(findings) == [signcheck.Kind.REPEAT]
    assert findings[0].member_id == room["people"]["Avery T."]
    assert findings[0].ratio >= payer_lens.SIMILARITY_THRESHOLD
    assert "previous" in findings[0].message


def test_another_members_name_is_flagged_and_replaced_by_initials(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    p = room["people"]
    write_notes(db, room, {"Avery T.": AVERY_RESPONSE + " She thanked Blake S. for the ride.",
                           "Blake S.": BLAKE_RESPONSE, "Casey R.": CASEY_RESPONSE, "Drew P.": DREW_RESPONSE})
    with db.begin() as s:
        story = live.add_story(s, room["meeting"], p["Drew P."], "Drew agreed with casey about roommates.")
        story_id = story.id
    with db.session() as s:
        findings = signcheck.sign_checks(s, room["meeting"])
    names = [f for f in findings if f.kind == signcheck.Kind.NAME]
    assert [(f.member_id, f.names, f.where) for f in names] == [
        (p["Avery T."], ("Blake S.",), "response"),
        (p["Drew P."], ("casey",), "story"),
    ]
    with db.begin() as s:
        assert signcheck.replace_names_with_initials(s, room["meeting"]) == 2
    view = snap(db, room)
    assert view.member(p["Avery T."]).note.response.endswith("She thanked B.S. for the ride.")
    assert view.member(p["Avery T."]).note.response.startswith("Avery described")  # her own name stays
    assert [st.text for st in view.member(p["Drew P."]).stories if st.id == story_id] == [
        "Drew agreed with C.R. about roommates."
    ]
    with db.session() as s:
        assert [f for f in signcheck.sign_checks(s, room["meeting"]) if f.kind == signcheck.Kind.NAME] == []
    assert actions(db, "meeting.names_to_initials")


def test_open_safety_event_blocks(db, room, library) -> None:  # noqa: F811
    complete_meeting(db, room, library)
    write_notes(db, room, {"Avery T.": AVERY_RESPONSE, "Blake S.": BLAKE_RESPONSE,
                           "Casey R.": CASEY_RESPONSE, "Drew P.": DREW_RESPONSE})
    with db.begin() as s:
        event = safety.record_event(s, room["meeting"], room["people"]["Casey R."], "passive thoughts")
        event_id = event.id
    with db.session() as s:  # the payer lens also asks for the member's risk screen
        assert kinds(signcheck.sign_checks(s, room["meeting"])) == [signcheck.Kind.SAFETY, signcheck.Kind.RISK_UNSCREENED]
    with db.begin() as s:
        note_facts.save_facts(s, room["meeting"], room["people"]["Casey R."], risk_screen="endorsed",
                              safety_event_id=event_id)
    with db.session() as s:
        findings = signcheck.sign_checks(s, room["meeting"])
    assert kinds(findings) == [signcheck.Kind.SAFETY] and findings[0].blocking
    assert signcheck.blocking(findings) == findings and signcheck.warnings(findings) == []
    with db.begin() as s, pytest.raises(Conflict, match="cannot sign yet"):
        notes.sign(s, room["meeting"], room["lead"])
    with db.begin() as s:
        safety.set_disposition(s, event_id, risk_level=RiskLevel.low, disposition="Screened; safety plan reviewed.")
    with db.session() as s:
        assert signcheck.sign_checks(s, room["meeting"]) == []


def test_replacing_names_is_refused_after_signing(db, room, library) -> None:  # noqa: F811
    signed_meeting(db, room, library)
    with db.begin() as s, pytest.raises(Conflict, match="signed"):
        signcheck.replace_names_with_initials(s, room["meeting"])
