"""History, matrix, rotation and versioning against a small clinic, on every back end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iop_facilitator.enums import AttendanceStatus, MeetingStatus
from iop_facilitator.library.load import Library, load_library
from iop_facilitator.models import Attendance
from iop_facilitator.resources import topics_dir
from iop_facilitator.services import groups, meetings, members, topics

EXEMPLAR = (topics_dir() / "handling-stress.md").read_text()
IDS = ("alpha-topic", "bravo-topic", "charlie-topic", "delta-topic")
MONDAY = dt.date(2026, 11, 2)


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "lib"
    folder.mkdir()
    for topic_id in IDS:
        text = EXEMPLAR.replace('id = "handling-stress"', f'id = "{topic_id}"')
        text = text.replace('title = "Methods of Handling Stress"', f'title = "{topic_id.split("-")[0].title()}"')
        (folder / f"{topic_id}.md").write_text(text)
    return folder


@pytest.fixture
def library(library_dir: Path) -> Library:
    return load_library([("bundled", library_dir)])


@pytest.fixture
def clinic(db, library: Library):
    """One group, four members; meetings covered alpha (all attended) then bravo (only Avery)."""
    with db.begin() as s:
        group = groups.add_group(s, "Rotation group", weekdays="mon,wed,fri")
        other = groups.add_group(s, "Other group", weekdays="tue")
        people = [members.add_member(s, n) for n in ("Avery T.", "Blake S.", "Casey R.", "Drew P.")]
        for person in people:
            members.enroll(s, person, group, MONDAY - dt.timedelta(days=14))
        plan = [
            (MONDAY, "alpha-topic", {p.display_name: AttendanceStatus.present for p in people}),
            (
                MONDAY + dt.timedelta(days=2),
                "bravo-topic",
                {"Avery T.": AttendanceStatus.late, "Blake S.": AttendanceStatus.absent_excused,
                 "Casey R.": AttendanceStatus.absent_unexcused, "Drew P.": AttendanceStatus.cancelled},
            ),
        ]
        by_name = {p.display_name: p for p in people}
        for day, topic_id, marks in plan:
            meeting = meetings.create_meeting(s, group, day)
            topics.use_topic(s, meeting, library.get(topic_id))
            meeting.status = MeetingStatus.completed
            for name, status in marks.items():
                s.add(Attendance(meeting_id=meeting.id, member_id=by_name[name].id, status=status))
        # Drew had charlie in another group: the matrix counts any group.
        elsewhere = meetings.create_meeting(s, other, MONDAY + dt.timedelta(days=1))
        topics.use_topic(s, elsewhere, library.get("charlie-topic"))
        elsewhere.status = MeetingStatus.completed
        s.add(Attendance(meeting_id=elsewhere.id, member_id=by_name["Drew P."].id, status=AttendanceStatus.present))
        # A draft meeting does not count as covering a topic.
        draft = meetings.create_meeting(s, group, MONDAY + dt.timedelta(days=4))
        topics.use_topic(s, draft, library.get("delta-topic"))
    return {"group": group, "people": people}


def test_history_lists_never_covered_first(db, library: Library, clinic) -> None:
    with db.session() as s:
        rows = topics.history(s, clinic["group"], library)
    order = [(h.topic_id, h.last_covered, h.times_covered) for h in rows]
    assert order == [
        ("charlie-topic", None, 0),
        ("delta-topic", None, 0),
        ("alpha-topic", MONDAY, 1),
        ("bravo-topic", MONDAY + dt.timedelta(days=2), 1),
    ]
    assert rows[2].last_version == "1.0"


def test_matrix_marks_attended_topics_in_any_group(db, library: Library, clinic) -> None:
    with db.session() as s:
        grid = topics.matrix(s, clinic["group"], library, MONDAY + dt.timedelta(days=7))
    names = [m.display_name for m in grid.members]
    assert names == ["Avery T.", "Blake S.", "Casey R.", "Drew P."]
    by = {m.display_name: m for m in grid.members}
    assert grid.has(by["Avery T."], "alpha-topic") and grid.has(by["Avery T."], "bravo-topic")
    assert not grid.has(by["Blake S."], "bravo-topic")  # absent does not count
    assert grid.has(by["Drew P."], "charlie-topic")
    assert not any(grid.has(m, "delta-topic") for m in grid.members)  # draft meeting, nobody attended


def test_suggest_prefers_uncovered_then_most_members_missing(db, library: Library, clinic) -> None:
    with db.session() as s:
        ranked = topics.suggest(s, clinic["group"], library, MONDAY + dt.timedelta(days=7))
    assert [r.topic.topic.id for r in ranked] == ["delta-topic", "charlie-topic", "bravo-topic", "alpha-topic"]
    assert [r.members_missing for r in ranked] == [4, 3, 3, 0]
    assert [r.covered_recently for r in ranked] == [False, False, True, True]
    assert "never covered" in ranked[0].reason and "4 of 4" in ranked[0].reason


def test_recent_window_is_configurable(db, library: Library, clinic) -> None:
    with db.session() as s:
        ranked = topics.suggest(s, clinic["group"], library, MONDAY + dt.timedelta(days=7), recent_meetings=1)
    # With only the last meeting (bravo) counting as recent, alpha (everyone had it) comes before bravo.
    assert [r.topic.topic.id for r in ranked][-2:] == ["alpha-topic", "bravo-topic"]


def test_meeting_records_topic_version_and_hash(db, library: Library, clinic) -> None:
    with db.session() as s:
        rows = meetings.list_meetings(s, group=clinic["group"])
    used = {r.meeting.topic_id: r.meeting for r in rows}
    loaded = library.get("alpha-topic")
    assert used["alpha-topic"].topic_version == "1.0"
    assert used["alpha-topic"].topic_hash == loaded.content_hash and len(loaded.content_hash) == 64


def test_signed_meeting_topic_cannot_change(db, library: Library, clinic) -> None:
    from iop_facilitator.errors import Conflict

    with db.begin() as s:
        meeting = meetings.list_meetings(s, group=clinic["group"])[0].meeting
        meeting = s.merge(meeting)
        meeting.status = MeetingStatus.signed
        with pytest.raises(Conflict):
            topics.use_topic(s, meeting, library.get("alpha-topic"))


runner = CliRunner()


def cli(*args: str):
    from iop_facilitator.cli.app import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def test_cli_history_matrix_suggest(db, db_target: str, library_dir: Path, clinic, monkeypatch) -> None:
    # Only the test library: point the bundled folder at it.
    import iop_facilitator.library.load as load_mod

    monkeypatch.setattr(load_mod, "default_sources", lambda extra=(): [("bundled", library_dir)])
    common = ["--db", db_target]
    history = json.loads(cli(*common, "topics", "history", "--group", "Rotation group", "--json").stdout)
    assert [h["topic_id"] for h in history][:2] == ["charlie-topic", "delta-topic"]
    grid = json.loads(cli(*common, "topics", "matrix", "--group", "Rotation group", "--date", "2026-11-09", "--json").stdout)
    assert {g["display_name"]: g["attended"] for g in grid}["Avery T."] == ["alpha-topic", "bravo-topic"]
    ranked = json.loads(cli(*common, "topics", "suggest", "--group", "Rotation group", "--date", "2026-11-09", "--json").stdout)
    assert ranked[0]["topic_id"] == "delta-topic" and ranked[0]["members_missing"] == 4
    table = cli(*common, "topics", "matrix", "--group", "Rotation group", "--date", "2026-11-09").stdout
    assert "1 = Avery T." in table and "Alpha" in table
    unknown = cli(*common, "topics", "suggest", "--group", "Nope")
    assert unknown.exit_code == 1 and "no group named" in unknown.stderr


def test_rotation_and_matrix_on_a_seeded_clinic(db) -> None:
    """With the real library and a seeded clinic: suggestions avoid the group's recent topics."""
    from iop_facilitator.library.load import load_library
    from iop_facilitator.resources import topics_dir
    from iop_facilitator.demo.clinic import seed_clinic

    end = dt.date(2026, 11, 20)
    seed_clinic(db, groups=2, weeks=6, members_per_group=8, seed=11, end=end)
    library = load_library([("bundled", topics_dir())])
    with db.session() as s:
        group = groups.list_groups(s)[0]
        recent_rows = meetings.list_meetings(s, group=group, limit=12)
        recent = {r.meeting.topic_id for r in recent_rows}
        assert all(r.meeting.topic_hash == library.get(r.meeting.topic_id).content_hash for r in recent_rows)
        ranked = topics.suggest(s, group, library, end)
        assert len(ranked) == len(library.topics)
        fresh = [r for r in ranked if not r.covered_recently]
        assert fresh and all(r.topic.topic.id not in recent for r in fresh)
        assert ranked[: len(fresh)] == fresh
        assert [r.members_missing for r in fresh] == sorted((r.members_missing for r in fresh), reverse=True)
        grid = topics.matrix(s, group, library, end)
        assert len(grid.members) == 8
        # Every current member attended at least one seeded topic, and nobody attended all 24 in six weeks.
        assert all(any(grid.has(m, t.topic.id) for t in grid.topics) for m in grid.members)
        assert not any(all(grid.has(m, t.topic.id) for t in grid.topics) for m in grid.members)
