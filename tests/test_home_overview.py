"""The home screen's overview: the same answer through SQLModel and straight from the SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest

from iop_facilitator.services import groups, home, live, members, settings, snapshot, staff

DAY = dt.date(2026, 11, 23)  # a Monday
START = pendulum.datetime(2026, 11, 23, 9, 2, tz="America/Chicago").in_tz("UTC")
NOW = START + dt.timedelta(hours=1)


@pytest.fixture
def clinic(db):
    """Two groups meeting today (one started), an older unsigned meeting, follow-ups."""
    with db.begin() as s:
        settings.update_settings(s, clinic_name="Overview Test Clinic (fictional)", timezone="America/Chicago")
        lead = staff.add_staff(s, "Dana Quinn", "LCSW")
        evening = groups.add_group(s, "Evening IOP", weekdays="mon,wed,fri", start_time="09:00", facilitators=[lead])
        groups.add_group(s, "Monday Skills", weekdays="mon", start_time="13:30", facilitators=[lead])
        groups.add_group(s, "Thursday Family", weekdays="thu", start_time="18:00", facilitators=[lead])
        people = []
        for name in ("Avery T.", "Blake S.", "Casey R."):
            person = members.add_member(s, name, goals=["Sleep seven hours"])
            members.enroll(s, person, evening, DAY - dt.timedelta(days=30))
            people.append(person.id)
        live.start_meeting(s, evening, DAY - dt.timedelta(days=2), now=START - dt.timedelta(days=2))
        live.start_meeting(s, evening, DAY, now=START)
        live.add_follow_up(s, people[0], "Call about housing", due=DAY - dt.timedelta(days=1))
        live.add_follow_up(s, people[1], "Bring the sleep log", due=DAY)
        live.add_follow_up(s, people[2], "Next month", due=DAY + dt.timedelta(days=30))
    return db


def test_overview_lists_today_open_meetings_and_follow_ups(clinic) -> None:
    with clinic.session() as s:
        view = home.overview(s, now=NOW)
    assert view.clinic_name == "Overview Test Clinic (fictional)" and view.today == DAY
    assert [(g.name, g.starts, g.ends, g.enrolled, g.status) for g in view.groups_today] == [
        ("Evening IOP", "09:00", "12:00", 3, "in_progress"),
        ("Monday Skills", "13:30", "16:30", 0, "not started"),
    ]
    assert [(m.group_name, m.local_date) for m in view.open_meetings] == [
        ("Evening IOP", DAY - dt.timedelta(days=2)),
        ("Evening IOP", DAY),
    ]
    assert view.open_meetings[1].hours_since_end < 0  # still running
    assert [(f.reason, f.overdue) for f in view.follow_ups] == [
        ("Call about housing", True),
        ("Bring the sleep log", False),
    ]
    assert view.group_count == 3


def test_the_sqlite_file_gives_the_same_overview(clinic, db_target) -> None:
    if "://" in db_target:
        pytest.skip("the file path exists only for SQLite")
    with clinic.session() as s:
        expected = home.overview(s, now=NOW)
    assert home.overview_from_sqlite_file(db_target, now=NOW) == expected


def test_awaiting_cosignature_is_listed_the_same_both_ways(clinic, db_target) -> None:
    with clinic.begin() as s:
        intern = staff.add_staff(s, "Robin Intern", "LPC-Associate")
        intern.requires_cosign = True
        s.add(intern)
        group = groups.resolve_group(s, "Thursday Family")
        meeting = live.start_meeting(s, group, DAY - dt.timedelta(days=4), now=START - dt.timedelta(days=4))
        # Signed by the intern: the snapshot freezes that a co-signature is required.
        snapshot.take(s, meeting, signer=intern, title="")
        s.flush()
        meeting.status = "signed"
        meeting.signed_by_id = intern.id
        meeting.signed_at = START - dt.timedelta(days=4)
        s.add(meeting)
    with clinic.begin() as s:  # whether one is required is part of what was signed: a later change of role does not move it
        s.get(type(intern), intern.id).requires_cosign = False
    with clinic.session() as s:
        view = home.overview(s, now=NOW)
    waiting = [m for m in view.open_meetings if m.status == home.AWAITING_COSIGN]
    assert [(m.group_name, m.local_date) for m in waiting] == [("Thursday Family", DAY - dt.timedelta(days=4))]
    assert home.status_text(home.AWAITING_COSIGN) == "awaiting co-signature"
    if "://" not in db_target:
        assert home.overview_from_sqlite_file(db_target, now=NOW) == view


def test_the_file_path_declines_when_unsure(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert home.overview_from_sqlite_file(str(missing)) is None
    assert not missing.exists()  # never creates a file

    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    assert home.overview_from_sqlite_file(str(text)) is None

    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert home.overview_from_sqlite_file(str(foreign)) is None
    assert home.overview_from_sqlite_file(str(tmp_path)) is None  # a folder


def test_the_file_path_declines_an_older_schema(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from iop_facilitator.db.migrate import upgrade

    old = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{old}")
    upgrade(engine, "0001")
    engine.dispose()
    before = old.read_bytes()
    assert home.overview_from_sqlite_file(str(old)) is None
    assert old.read_bytes() == before  # read only: the migration is left to the real open


def test_the_file_path_imports_no_sqlalchemy(clinic, db_target) -> None:
    if "://" in db_target:
        pytest.skip("the file path exists only for SQLite")
    code = (
        "import sys\n"
        "from iop_facilitator.services.home import overview_from_sqlite_file\n"
        f"assert overview_from_sqlite_file({db_target!r}) is not None\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'sqlmodel', 'alembic', 'pydantic') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_long_backlog_lists_the_oldest_and_counts_them_all(clinic, db_target) -> None:
    with clinic.begin() as s:
        person = members.add_member(s, "Eden W.")
        for days in range(60):
            live.add_follow_up(s, person.id, f"Backlog item {days:02d}", due=DAY - dt.timedelta(days=100 - days))
    with clinic.session() as s:
        view = home.overview(s, now=NOW)
    assert len(view.follow_ups) == home.FOLLOW_UPS_SHOWN
    assert view.follow_ups_due == 62  # 60 + the two of the fixture
    assert view.follow_ups[0].reason == "Backlog item 00"  # the oldest first
    if "://" not in db_target:
        assert home.overview_from_sqlite_file(db_target, now=NOW) == view
