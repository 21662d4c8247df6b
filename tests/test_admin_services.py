"""Editing members, groups and staff; the roster and groups views; the home screen's wording;
writing config.toml. Service tests run on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import stat
import tomllib
import uuid
from pathlib import Path

import pytest
from sqlmodel import select

from iop_facilitator.config import Config, load_config, save_config
from iop_facilitator.enums import (
    AttendanceStatus,
    Audience,
    ExitReason,
    GroupStatus,
    GroupType,
    MemberStatus,
    StaffRole,
)
from iop_facilitator.errors import Conflict, InvalidInput, NotFound
from iop_facilitator.models import AuditEvent, Group, GroupFacilitator, Member
from iop_facilitator.services import groups, home, live, meetings, members, settings, staff

DAY = dt.date(2026, 11, 2)  # a Monday


@pytest.fixture
def clinic(db):
    with db.begin() as s:
        settings.update_settings(s, timezone="America/Chicago", absence_window_weeks=4)
        lead = staff.add_staff(s, "Dana Quinn", "LCSW")
        co = staff.add_staff(s, "Rae Lopez", "LPC")
        group = groups.add_group(s, "Evening IOP", weekdays="mon,wed", start_time="18:00", facilitators=[lead, co],
                                 capacity=4)
        other = groups.add_group(s, "Morning Skills", group_type=GroupType.skills, weekdays="tue")
        people = {}
        for name in ("Avery T.", "Blake S.", "Casey R."):
            person = members.add_member(s, name, goals=["Sleep seven hours"])
            members.enroll(s, person, group, DAY - dt.timedelta(days=14))
            people[name] = person.id
    return {"lead": lead.id, "co": co.id, "group": group.id, "other": other.id, "people": people}


def audit_events(db, action: str) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)))


# --------------------------------------------------------------------------- members


def test_update_member_name_and_chart(db, clinic) -> None:
    avery = clinic["people"]["Avery T."]
    with db.begin() as s:
        member = members.update_member(s, avery, display_name="  avery t ", external_chart_id=" MRN-1 ")
        assert (member.display_name, member.external_chart_id) == ("avery T.", "MRN-1")
    with db.begin() as s:
        member = members.update_member(s, avery, external_chart_id="")  # empty: no chart id
        assert member.external_chart_id is None and member.display_name == "avery T."
    events = audit_events(db, "member.update")
    assert [e.details["fields"] for e in events] == [["display_name", "external_chart_id"], ["external_chart_id"]]
    assert all("avery" not in str(e.details).lower() and "MRN" not in str(e.details) for e in events)


def test_update_member_refuses_bad_values(db, clinic) -> None:
    avery, blake = clinic["people"]["Avery T."], clinic["people"]["Blake S."]
    with db.begin() as s:
        members.update_member(s, blake, external_chart_id="MRN-2")
    with db.begin() as s:
        with pytest.raises(InvalidInput, match="last initial"):
            members.update_member(s, avery, display_name="Avery Thompson")
        with pytest.raises(InvalidInput, match="display name"):
            members.update_member(s, avery, display_name="  ")
        with pytest.raises(Conflict, match="MRN-2 already belongs"):
            members.update_member(s, avery, external_chart_id="MRN-2")
        with pytest.raises(InvalidInput, match="at most 64"):
            members.update_member(s, avery, external_chart_id="x" * 65)
        with pytest.raises(NotFound):
            members.update_member(s, uuid.uuid4(), display_name="Sam K.")


def test_update_member_refuses_a_stale_edit(db, clinic) -> None:
    avery = clinic["people"]["Avery T."]
    with db.session() as s:
        version = s.get_one(Member, avery).version
    with db.begin() as s:
        members.update_member(s, avery, display_name="Avery B.", expected_version=version)
    with db.begin() as s, pytest.raises(Conflict, match="changed elsewhere"):
        members.update_member(s, avery, display_name="Avery C.", expected_version=version)
    with db.session() as s:
        assert s.get_one(Member, avery).display_name == "Avery B."


def test_unchanged_member_is_not_audited(db, clinic) -> None:
    with db.begin() as s:
        members.update_member(s, clinic["people"]["Avery T."], display_name="Avery T.")
    assert audit_events(db, "member.update") == []


def test_member_summaries(db, clinic) -> None:
    people = clinic["people"]
    with db.begin() as s:
        group = s.get_one(Group, clinic["group"])
        other = s.get_one(Group, clinic["other"])
        members.enroll(s, s.get_one(Member, people["Avery T."]), other, DAY)
        members.set_goals(s, s.get_one(Member, people["Avery T."]), ["One", "Two", "Three"])
        meeting = meetings.create_meeting(s, group, DAY - dt.timedelta(days=7))
        live.mark(s, meeting.id, people["Blake S."], AttendanceStatus.absent_unexcused)
        live.mark(s, meeting.id, people["Avery T."], AttendanceStatus.present)
        old = meetings.create_meeting(s, group, DAY - dt.timedelta(weeks=6))  # outside the 4-week window
        live.mark(s, old.id, people["Blake S."], AttendanceStatus.absent_excused)
        members.discharge(s, s.get_one(Member, people["Casey R."]), reason="completed", on=DAY)
    with db.session() as s:
        rows = members.member_summaries(s, on=DAY)
        current = members.member_summaries(s, on=DAY, include_discharged=False)
    by_name = {r.display_name: r for r in rows}
    assert list(by_name) == ["Avery T.", "Blake S.", "Casey R."]
    assert [name for _id, name in by_name["Avery T."].groups] == ["Evening IOP", "Morning Skills"]
    assert by_name["Avery T."].goals == ("One", "Two", "Three")
    assert by_name["Blake S."].absences == 1 and by_name["Avery T."].absences == 0
    assert by_name["Casey R."].status == MemberStatus.discharged.value and by_name["Casey R."].groups == ()
    assert [r.display_name for r in current] == ["Avery T.", "Blake S."]


# --------------------------------------------------------------------------- groups


def test_update_group_fields(db, clinic) -> None:
    with db.begin() as s:
        group = groups.update_group(
            s, clinic["group"], name=" Evening  Recovery ", group_type=GroupType.relapse_prevention,
            weekdays="thu, mon", start_time="8:30", duration_minutes=90, audience=Audience.adolescent,
            capacity=6, status=GroupStatus.finished, location="Room 2",
        )
        assert (group.name, group.weekdays, group.start_time, group.duration_minutes) == (
            "Evening Recovery", ["mon", "thu"], "08:30", 90,
        )
        assert (group.group_type, group.audience, group.capacity, group.status, group.location) == (
            GroupType.relapse_prevention, Audience.adolescent, 6, GroupStatus.finished, "Room 2",
        )
    [event] = audit_events(db, "group.update")
    assert event.details["fields"] == sorted(
        ["name", "group_type", "weekdays", "start_time", "duration_minutes", "audience", "capacity", "status",
         "location"]
    )


def test_update_group_rules(db, clinic) -> None:
    with db.begin() as s:
        with pytest.raises(InvalidInput, match="needs a name"):
            groups.update_group(s, clinic["group"], name=" \x1b[2J ")
        with pytest.raises(InvalidInput, match="HH:MM"):
            groups.update_group(s, clinic["group"], start_time="25:00")
        with pytest.raises(InvalidInput, match="weekday"):
            groups.update_group(s, clinic["group"], weekdays="mon,funday")
        with pytest.raises(InvalidInput, match="720"):
            groups.update_group(s, clinic["group"], duration_minutes=0)
        with pytest.raises(Conflict, match="3 members enrolled"):
            groups.update_group(s, clinic["group"], capacity=2)
        with pytest.raises(NotFound):
            groups.update_group(s, uuid.uuid4(), name="x")
        version = s.get_one(Group, clinic["group"]).version
        with pytest.raises(Conflict, match="changed elsewhere"):
            groups.update_group(s, clinic["group"], name="x", expected_version=version + 1)


def test_update_group_facilitators_only_when_given(db, clinic) -> None:
    with db.begin() as s:
        groups.update_group(s, clinic["group"], name="Evening IOP 2")  # facilitators untouched
        group = s.get_one(Group, clinic["group"])
        assert [p.name for p in groups.facilitators_of(s, group)] == ["Dana Quinn", "Rae Lopez"]
    with db.begin() as s:
        co = staff.resolve_staff(s, "Rae Lopez")
        groups.update_group(s, clinic["group"], facilitators=[co])
    with db.session() as s:
        links = list(s.exec(select(GroupFacilitator).where(GroupFacilitator.group_id == clinic["group"])))
        assert [(link.staff_id, link.is_lead) for link in links] == [(clinic["co"], True)]
    assert [e.details["fields"] for e in audit_events(db, "group.update")] == [["name"], ["facilitators"]]


def test_group_summaries(db, clinic) -> None:
    with db.session() as s:
        rows = groups.group_summaries(s, on=DAY)
    evening, morning = rows
    assert (evening.name, evening.enrolled, evening.capacity, evening.weekdays) == ("Evening IOP", 3, 4, ("mon", "wed"))
    assert [name for _id, name in evening.facilitators] == ["Dana Quinn", "Rae Lopez"]
    assert (morning.name, morning.enrolled, morning.facilitators, morning.group_type) == (
        "Morning Skills", 0, (), "skills",
    )


# --------------------------------------------------------------------------- staff


# --------------------------------------------------------------------------- what the screens call, by id


def test_services_take_ids_as_the_screens_pass_them(db, clinic) -> None:
    """A screen holds read-model values, not records: enroll, exit, goals, group facilitators and
    starting a meeting take ids (the same rules run; a missing record is a one-line NotFound)."""
    avery = clinic["people"]["Avery T."]
    with db.begin() as s:
        members.enroll(s, avery, clinic["other"], DAY)
        members.set_goals(s, avery, ["Call my sponsor", "Walk daily"])
        members.discharge(s, avery, reason=ExitReason.completed, on=DAY, group=clinic["other"])
        group = groups.add_group(s, "By ids", facilitators=[clinic["co"], clinic["lead"]])
        groups.update_group(s, group.id, facilitators=[clinic["lead"]])
    with db.session() as s:
        assert [g.text for g in members.goals_of(s, s.get_one(Member, avery))] == ["Call my sponsor", "Walk daily"]
        assert [p.id for p in groups.facilitators_of(s, s.get_one(Group, group.id))] == [clinic["lead"]]
        member, other = s.get_one(Member, avery), s.get_one(Group, clinic["other"])
        assert members.active_enrollment(s, member, other) is None  # exited
        assert members.active_enrollment(s, member, s.get_one(Group, clinic["group"])) is not None
    with db.begin() as s, pytest.raises(NotFound, match="that member no longer exists"):
        members.set_goals(s, uuid.uuid4(), ["x"])
    with db.begin() as s, pytest.raises(NotFound, match="that group no longer exists"):
        members.enroll(s, avery, uuid.uuid4(), DAY)


def test_start_meeting_by_id_and_the_meeting_under_way(db, clinic) -> None:
    with db.begin() as s:
        # A laptop's stale facilitator id starts the meeting without a facilitator (as before).
        meeting = live.start_meeting(s, clinic["group"], DAY, facilitator=uuid.uuid4())
        assert meeting.facilitator_id == clinic["lead"]  # the group's lead, from the schedule
        started = meeting.id
    with db.begin() as s:
        assert live.start_meeting(s, clinic["group"], DAY, facilitator=clinic["co"]).id == started
    with db.session() as s:
        signer = staff.signer(s, started, None)
        assert signer is not None and (signer.name, signer.credentials) == ("Dana Quinn", "LCSW")
        assert staff.signer(s, started, clinic["co"]).name == "Rae Lopez"
        assert staff.person(s, uuid.uuid4()) is None
        assert meetings.signer_credentials(s, started) == ""


def test_update_staff(db, clinic) -> None:
    with db.begin() as s:
        person = staff.update_staff(s, clinic["lead"], credentials=" LCSW, LADC ", role=StaffRole.supervisor)
        assert (person.credentials, person.role) == ("LCSW, LADC", StaffRole.supervisor)
        with pytest.raises(InvalidInput, match="needs a name"):
            staff.update_staff(s, clinic["lead"], name="")
        with pytest.raises(InvalidInput, match="at most 100"):
            staff.update_staff(s, clinic["lead"], credentials="x" * 101)
        with pytest.raises(NotFound):
            staff.update_staff(s, uuid.uuid4(), credentials="LPC")
    with db.begin() as s:
        version = s.get_one(staff.Staff, clinic["lead"]).version
        staff.update_staff(s, clinic["lead"], credentials="", expected_version=version)  # emptied: allowed
        with pytest.raises(Conflict, match="changed elsewhere"):
            staff.update_staff(s, clinic["lead"], name="Dana Q.", expected_version=version)
    events = audit_events(db, "staff.update")
    assert [e.details["fields"] for e in events] == [["credentials", "role"], ["credentials"]]
    assert all("LCSW" not in str(e.details) for e in events)


# --------------------------------------------------------------------------- home wording


@pytest.mark.parametrize(
    ("hours", "text"),
    [(-2.0, "running"), (0.4, "< 1 h"), (3.7, "3 h"), (23.9, "23 h"), (24.0, "1 day"), (47.0, "1 day"),
     (48.0, "2 days"), (48.5, "2 days · OVERDUE"), (80.0, "3 days · OVERDUE")],
)
def test_describe_age(hours: float, text: str) -> None:
    assert home.describe_age(hours) == text
    assert home.is_overdue(hours) == ("OVERDUE" in text)


def test_status_text_is_words() -> None:
    assert [home.status_text(s) for s in ("not started", "draft", "in_progress", "completed", "signed")] == [
        "not started", "not started", "in progress", "to sign", "signed",
    ]


# --------------------------------------------------------------------------- config.toml


def test_save_config_round_trips_and_keeps_the_keymap(tmp_path: Path) -> None:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        '# mine\ntheme = "iop-dark"\nfuture_setting = 3\n[keys]\n"app.help" = ["f1", "question_mark"]\n'
        '"home.refrsh" = "f5"\n',
        encoding="utf-8",
    )
    config, _problems = load_config(path)
    config.theme = 'iop-"light"\\'
    config.facilitator_id = "0b7c5a1e-0000-4000-8000-000000000001"
    assert save_config(config, path) == []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "theme": 'iop-"light"\\',
        "future_setting": 3,
        "facilitator_id": "0b7c5a1e-0000-4000-8000-000000000001",
        "keys": {"app.help": "f1,question_mark", "home.refrsh": "f5"},  # the typo is kept for the user to fix
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, _problems = load_config(path)
    assert (again.theme, again.facilitator_id, again.keys) == (config.theme, config.facilitator_id, config.keys)
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary file left behind


def test_save_config_new_file_and_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "config.toml"
    config = Config(theme="a\x1b\x7f\nb", keys={"home.refresh": "f5"})
    save_config(config, path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data == {"theme": "a\x1b\x7f\nb", "keys": {"home.refresh": "f5"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_config_keeps_a_broken_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("theme = = broken\n", encoding="utf-8")
    problems = save_config(Config(theme="iop-light"), path)
    assert len(problems) == 1 and "not valid TOML" in problems[0] and "config.toml.bak" in problems[0]
    assert (tmp_path / "config.toml.bak").read_text(encoding="utf-8") == "theme = = broken\n"
    assert stat.S_IMODE((tmp_path / "config.toml.bak").stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"theme": "iop-light"}


def test_save_config_failure_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    path = tmp_path / "config.toml"
    path.write_text('theme = "iop-dark"\n', encoding="utf-8")

    def broken_replace(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_config(Config(theme="iop-light"), path)
    assert path.read_text(encoding="utf-8") == 'theme = "iop-dark"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
