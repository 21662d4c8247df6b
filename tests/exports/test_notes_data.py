"""Notes export, data layer: what a meeting's document holds, filters, batching, redaction.

Runs on SQLite and, with IOP_TEST_PG_URL, on PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from iop_facilitator.exports import notes_data as nd
from tests.exports import notes_clinic


@pytest.fixture
def clinic(db, prebuilt):
    return prebuilt(db, "notes_clinic", notes_clinic.build)


def docs(db, **filters):
    with db.session() as s:
        return list(nd.iter_documents(s, nd.Filters(**filters)))


def test_signed_meeting_holds_every_payer_element(db, clinic) -> None:
    (doc,) = [d for d in docs(db) if d.meeting_id == clinic.signed]
    assert doc.signed and doc.status == "signed"
    assert doc.local_date == dt.date(2026, 11, 2) and doc.timezone == notes_clinic.TZ
    assert doc.actual_start == notes_clinic.at(doc.local_date, 18, 0)
    assert doc.actual_end == notes_clinic.at(doc.local_date, 21, 0) and doc.duration_minutes == 180
    assert (doc.modality, doc.location) == ("in_person", "Room 2")
    assert (doc.group_name, doc.group_type, doc.level_of_care) == ("Evening IOP", "psychoeducation", "IOP")
    assert doc.topic_id == "coping-with-triggers" and doc.topic_title == "Coping with Potential Triggers"
    assert doc.topic_version == "1.0" and doc.topic_hash and len(doc.topic_hash) == 64
    assert doc.count_present == 2
    assert doc.facilitator.signature == "Dana Quinn, LCSW"
    assert doc.co_facilitator.signature == "Lee Park, CADC"
    assert doc.signature.person.name == "Dana Quinn" and doc.signature.credentials == "LCSW"
    assert doc.signature.at == notes_clinic.at(doc.local_date, 21, 30)
    assert doc.cosignature is None
    assert doc.narrative == notes_clinic.UNICODE_NARRATIVE
    assert "\u2014" in doc.homework
    by_name = {m.display_name: m for m in doc.members}
    assert set(by_name) == {"Ana R.", "Jordan M.", "Sam K."}
    assert by_name["Ana R."].status == "absent_excused" and not by_name["Ana R."].attended
    sam = by_name["Sam K."]
    assert sam.attended and sam.minutes == 180 and sam.chart_id == "MRN-2001"
    assert [g.text for g in sam.goals] == ["Use a coping skill when cravings hit"]
    assert sam.intervention.startswith("Psychoeducation") and sam.response == notes_clinic.SAM_RESPONSE
    assert sam.plan == "Continue IOP; call sponsor before Friday."
    assert (sam.checkin_mood, sam.checkin_urge, sam.checkout_mood) == (4, 7, 6)
    assert [s.text for s in sam.stories] == ["Talked about payday; Jordan offered a ride to a meeting."]
    # Addenda: one on Sam's part, one on the whole meeting; both beside the untouched original.
    assert [a.reason for a in sam.addenda] == ["Late entry: sponsor call"]
    assert sam.addenda[0].author.name == "Dana Quinn" and sam.addenda[0].credentials == "LCSW"
    assert [a.reason for a in doc.addenda] == ["Correction"]
    assert [(e.risk_level, e.disposition.startswith("C-SSRS")) for e in sam.safety_events] == [("low", True)]
    assert by_name["Jordan M."].safety_events == ()


def test_cosigned_telehealth_meeting(db, clinic) -> None:
    (doc,) = [d for d in docs(db) if d.meeting_id == clinic.telehealth]
    assert doc.modality == "telehealth"
    assert doc.signature.person.name == "Riley Chen" and doc.signature.credentials == "MHT (intern)"
    assert doc.cosignature.person.name == "Dana Quinn" and doc.cosignature.credentials == "LCSW"


def test_unsigned_meetings_are_excluded_unless_asked(db, clinic) -> None:
    assert [d.meeting_id for d in docs(db)] == [clinic.signed, clinic.telehealth]
    every = docs(db, include_unsigned=True)
    assert [d.meeting_id for d in every] == [clinic.signed, clinic.draft, clinic.telehealth]
    assert [d.signed for d in every] == [True, False, True]


def test_filters(db, clinic) -> None:
    assert [d.meeting_id for d in docs(db, since=dt.date(2026, 11, 3), include_unsigned=True)] == [clinic.draft, clinic.telehealth]
    assert [d.meeting_id for d in docs(db, until=dt.date(2026, 11, 4), include_unsigned=True)] == [clinic.signed, clinic.draft]
    assert [d.meeting_id for d in docs(db, group_id=uuid.UUID(clinic.tele_group))] == [clinic.telehealth]
    assert [d.meeting_id for d in docs(db, member_id=uuid.UUID(clinic.zoe))] == [clinic.telehealth]
    assert [d.meeting_id for d in docs(db, member_id=uuid.UUID(clinic.ana), include_unsigned=True)] == [clinic.signed, clinic.draft]
    with db.session() as s:
        people = nd.member_ids(s, nd.Filters(group_id=uuid.UUID(clinic.evening_group)))
    assert {str(p) for p in people} == {clinic.jordan, clinic.sam, clinic.ana}


def test_batches_give_the_same_documents_with_a_fixed_number_of_queries(db, clinic) -> None:
    with db.session() as s:
        ids = nd.meeting_ids(s, nd.Filters(include_unsigned=True))
        whole = list(nd.iter_documents(s, nd.Filters(), ids=ids, topic_titles={}))
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # the transaction's start is not a query
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as s:
            one_by_one = list(nd.iter_documents(s, nd.Filters(), ids=ids, topic_titles={}, chunk=1))
        single = len(statements)
        statements.clear()
        with db.session() as s:
            list(nd.iter_documents(s, nd.Filters(), ids=ids, topic_titles={}))
        batched = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert one_by_one == whole
    # One batch of 3 meetings costs about what one meeting costs: no query per meeting or member.
    assert batched <= 16, batched  # 13 (with the note facts), and 3 for the signed snapshots (snapshot, members, co-signer)
    assert single >= 2 * batched - 6


def test_redactor_replaces_other_names_with_initials() -> None:
    hide = nd.redactor_for("Sam K.", ["Jordan M.", "Zo\u00eb W.", "Sam K.", "Sam T."])
    text = "Jordan M. and jordan m and JORDAN helped; Jordanian food; Zo\u00eb W. and Zo\u00eb spoke; Sam T. and Sam too."
    assert hide(text) == "J.M. and J.M. and J.M. helped; Jordanian food; Z.W. and Z.W. spoke; S.T. and Sam too."
    assert nd.initials("Jordan M.") == "J.M." and nd.initials("") == "a peer"
    assert nd.redactor_for("Sam K.", [])("Jordan M.") == "Jordan M."
    # A first name that is an everyday word is matched only when capitalised.
    will = nd.redactor_for("Sam K.", ["Will P."])
    assert will("Will P. said he will call; WILL agreed; will p. too") == "W.P. said he will call; W.P. agreed; W.P. too"


def test_member_view_keeps_only_that_member_and_hides_other_names(db, clinic) -> None:
    (doc,) = [d for d in docs(db) if d.meeting_id == clinic.signed]
    view = nd.member_view(doc, clinic.sam)
    assert view is not None and view.subject_member_id == clinic.sam
    assert [m.display_name for m in view.members] == ["Sam K."]
    assert view.count_present == 2  # the group context stays
    blob = repr(view)
    for other in ("Jordan", "Ana R."):
        assert other not in blob
    assert "J.M. led the role-play" in view.narrative
    assert "J.M.\u2019s story" in view.members[0].response
    assert "J.M. helped move chairs" in view.addenda[0].text
    assert nd.member_view(doc, str(uuid.uuid4())) is None


def test_member_documents_also_hide_names_of_everyone_enrolled(db, clinic) -> None:
    with db.session() as s:
        views = list(nd.iter_member_documents(s, nd.Filters(include_unsigned=True), uuid.UUID(clinic.zoe)))
    assert [v.meeting_id for v in views] == [clinic.telehealth]
    assert "Jordan" not in repr(views)
    assert "J.M. asked about sleep" in views[0].narrative
