"""The payer lens on the database: one meeting and a date range read the same notes the same way."""

from __future__ import annotations

from iop_facilitator.services import note_facts, notes, payer_lens
from tests.test_formats import DAY, fixed_meeting
from tests.test_live_services import library  # noqa: F401 - fixture


def test_one_meeting_and_a_range_give_the_same_flags(db, library) -> None:  # noqa: F811
    meeting, ids = fixed_meeting(db, library)
    with db.begin() as s:
        notes.draft_notes(s, meeting, library.get("handling-stress"))
        note_facts.save_facts(s, meeting, ids["Avery T."], observation="Sat by Blake and kept glancing at the clock.")
    with db.session() as s:
        one = payer_lens.review_meeting(s, meeting)
        [ranged] = payer_lens.review_range(s, since=DAY, until=DAY)
        found = {(f.kind, f.member, f.field) for f in one.flags}
    assert one == ranged
    # Casey's note is the app's draft only; Avery's observation and her story note name a peer
    assert found == {("no_observation", "Casey R.", "observation"), ("name", "Avery T.", "observation"),
                     ("name", "Avery T.", "story")}
    assert all(f.meeting_id == meeting for f in one.flags)
