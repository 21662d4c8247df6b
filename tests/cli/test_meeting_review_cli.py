"""``iop meeting review``: the payer lens for supervisors and billing staff, one meeting or a date range."""

from __future__ import annotations

import datetime as dt
import json

from tests.cli.test_cli import assert_one_line_error, clinic_db, iop  # noqa: F401 - fixture
from tests.cli.test_meeting_records_cli import DAY, build_meeting

CLONE = "Member was engaged and receptive to feedback from peers throughout the whole discussion."


def test_review_one_meeting_lists_each_flag_with_member_and_field(clinic_db: str) -> None:  # noqa: F811
    mid = build_meeting(clinic_db, sign_as=None, responses={
        "Avery T.": f"Avery described the river trail walk. {CLONE}",
        "Blake S.": f"Blake talked about fixing a bicycle. {CLONE}",
    })
    r = iop("--db", clinic_db, "meeting", "review", str(mid)[:8], "--json")
    assert r.exit_code == 0, r.output
    [item] = json.loads(r.stdout)
    assert item["meeting_id"] == str(mid) and item["date"] == DAY.isoformat()
    assert [(f["kind"], f["member"], f["field"]) for f in item["flags"]] == [("similar", "Avery T.", "response")]
    assert item["flags"][0]["sentences"] == [CLONE]
    table = iop("--db", clinic_db, "meeting", "review", str(mid))
    assert table.exit_code == 0 and "similar" in table.stdout and "response" in table.stdout
    assert "1 flag(s) in 1 of 1 meeting(s)" in table.stdout


def test_review_a_date_range_before_claims_go_out(clinic_db: str) -> None:  # noqa: F811
    build_meeting(clinic_db)  # signed, distinct notes written by the leader: nothing to question
    day = DAY.isoformat()
    r = iop("--db", clinic_db, "meeting", "review", "--since", day, "--until", day, "--json")
    assert r.exit_code == 0, r.output
    assert [item["flags"] for item in json.loads(r.stdout)] == [[]]
    clean = iop("--db", clinic_db, "meeting", "review", "--since", day)
    assert clean.exit_code == 0 and "No flags in 1 meeting(s)" in clean.stdout
    later = (DAY + dt.timedelta(days=1)).isoformat()
    assert json.loads(iop("--db", clinic_db, "meeting", "review", "--since", later, "--json").stdout) == []


def test_review_refuses_unclear_requests_in_one_line(clinic_db: str) -> None:  # noqa: F811
    mid = build_meeting(clinic_db, sign_as=None)
    assert_one_line_error(iop("--db", clinic_db, "meeting", "review"), match="date range")
    assert_one_line_error(iop("--db", clinic_db, "meeting", "review", str(mid), "--since", DAY.isoformat()), match="not both")
    r = iop("--db", clinic_db, "meeting", "review", "--since", "2026-12-01", "--until", "2026-11-01")
    assert r.exit_code == 2 and "--since is after --until" in r.output
