"""A scripted meeting for the torture tests: every step one committed write transaction.

Run as a program it plays the script against a database and prints one line per committed
step (``step N``) on stdout, flushed, *after* the commit returned, so a parent that kills it
knows which steps were confirmed::

    python -m tests.torture.scripted DB [--from N] [--rescue]

Every step also writes an audit entry ``torture.step`` (with its number) in its own
transaction, so the steps a database holds can be read back exactly (:func:`committed_steps`),
and :func:`observe` projects a meeting onto plain values (no ids, no clock times) so the state
after a kill can be compared with the state the script produces after the same steps.

``--rescue``: on :class:`~iop_facilitator.errors.DatabaseGone` (the file was deleted), copy
what the open connection still holds to a rescue file, print ``gone PATH`` and exit 3.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEMBERS = ("Avery T.", "Blake S.", "Casey R.", "Drew P.", "Eli N.", "Finn O.")
GOALS = ("Sleep seven hours a night", "Call my sponsor daily", "Stay sober one day at a time")
DAY = dt.date(2026, 11, 23)
START = dt.datetime(2026, 11, 23, 15, 1, tzinfo=dt.UTC)
STEP_ACTION = "torture.step"


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Any, dict[str, Any]], None]  # (session, ids)


def build_clinic(target: str | Path) -> None:
    """A fictional clinic: one lead with credentials, one group meeting every day, six members with goals."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.services import groups, members, settings, staff

    database = open_database(target, create=True)
    try:
        with database.begin() as s:
            settings.update_settings(s, timezone="America/Chicago", clinic_name="Torture Clinic (fictional)")
            lead = staff.add_staff(s, "Dana Quinn", "LCSW")
            group = groups.add_group(s, "Evening IOP", weekdays="mon,tue,wed,thu,fri,sat,sun", start_time="09:00",
                                     facilitators=[lead])
            for index, name in enumerate(MEMBERS):
                person = members.add_member(s, name, goals=list(GOALS[: 1 + index % 3]))
                members.enroll(s, person, group, dt.date(2026, 1, 5))
    finally:
        database.dispose()


def ids_of(session: Any) -> dict[str, Any]:
    from sqlmodel import select

    from iop_facilitator.models import Group, GroupMeeting, Member, Staff

    found: dict[str, Any] = {
        "group": session.exec(select(Group.id)).one(),
        "lead": session.exec(select(Staff.id).where(Staff.name == "Dana Quinn")).one(),
        "members": {m.display_name: m.id for m in session.exec(select(Member))},
    }
    found["meeting"] = session.exec(select(GroupMeeting.id)).first()
    return found


def _story(session: Any, text: str) -> uuid.UUID:
    from sqlmodel import select

    from iop_facilitator.models import StoryNote

    return session.exec(select(StoryNote.id).where(StoryNote.text == text)).one()


def _topic():  # noqa: ANN202
    from iop_facilitator.library.load import load_library
    from iop_facilitator.resources import topics_dir

    library = load_library([("bundled", topics_dir())])
    return library.get("coping-with-triggers") if "coping-with-triggers" in library.topics else library.sorted()[0]


def script() -> list[Step]:
    """The meeting, start to signature: about 120 small steps, as a leader's keys would make them."""
    from iop_facilitator.enums import AttendanceStatus, FlowStep
    from iop_facilitator.models import Group, Staff
    from iop_facilitator.services import live, live_read, notes

    steps: list[Step] = []

    def add(name: str, run: Callable[[Any, dict[str, Any]], None]) -> None:
        steps.append(Step(name, run))

    def typed(name: str, service: Callable[..., None], versions: list[str]) -> None:
        """Debounced typing: each save of a text field is based on the previous one."""
        for number, (base, text) in enumerate(zip(["", *versions], versions), start=1):
            add(f"{name} v{number}", lambda s, i, t=text, b=base: service(s, i["meeting"], t, based_on=b))

    add("start", lambda s, i: live.start_meeting(s, s.get_one(Group, i["group"]), DAY,
                                                 facilitator=s.get_one(Staff, i["lead"]), now=START))
    statuses = [AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.present,
                AttendanceStatus.absent_excused, AttendanceStatus.present, AttendanceStatus.present]
    for name, status in zip(MEMBERS, statuses):
        add(f"mark {name}", lambda s, i, n=name, st=status: live.set_status(s, i["meeting"], i["members"][n], st))
    attended = [n for n, st in zip(MEMBERS, statuses) if st != AttendanceStatus.absent_excused]
    for k, name in enumerate(attended):
        add(f"mood {name}", lambda s, i, n=name, v=k + 3: live.set_checkin(s, i["meeting"], i["members"][n], mood=v))
        add(f"urge {name}", lambda s, i, n=name, v=k: live.set_checkin(s, i["meeting"], i["members"][n], urge=v))
    add("step stories", lambda s, i: live.set_step(s, i["meeting"], FlowStep.stories))
    for round_ in range(3):
        for name in attended:
            text = f"{name} story {round_}"
            add(f"story {text}", lambda s, i, n=name, t=text: live.add_story(s, i["meeting"], i["members"][n], t))
    for name in attended[:3]:
        old, new = f"{name} story 1", f"{name} story 1, edited"
        add(f"edit {old}", lambda s, i, o=old, t=new: live.update_story(s, _story(s, o), t, based_on=o))
    add(f"delete {attended[3]} story 2",
        lambda s, i, o=f"{attended[3]} story 2": live.update_story(s, _story(s, o), "", based_on=o))
    add("step topic", lambda s, i: live.set_step(s, i["meeting"], FlowStep.topic))
    add("topic", lambda s, i: live.choose_topic(s, i["meeting"], _topic()))
    for index in range(3):
        add(f"prompt {index}", lambda s, i, x=index: live.toggle_prompt(s, i["meeting"], x))
    typed("topic notes", live.set_topic_notes, ["Discussed triggers" + "; more" * v for v in range(1, 6)])
    add("step checkout", lambda s, i: live.set_step(s, i["meeting"], FlowStep.checkout))
    for k, name in enumerate(attended):
        add(f"closing {name}", lambda s, i, n=name, v=9 - k: live.set_checkout(s, i["meeting"], i["members"][n], mood=v))
        add(f"takeaway {name}", lambda s, i, n=name: live.set_checkout(
            s, i["meeting"], i["members"][n], takeaway=f"{n} takes away one skill", takeaway_based_on=""))
    add("homework", lambda s, i: live.set_homework(s, i["meeting"], "Write down one trigger", based_on=""))
    add("finish", lambda s, i: live.finish_meeting(s, i["meeting"], at=START + dt.timedelta(hours=3)))
    typed("narrative", live.set_narrative, ["The group worked on triggers" + "." * v for v in range(1, 8)])
    for name in attended:
        def note(s: Any, i: dict[str, Any], n: str = name) -> None:
            line = live_read.load_snapshot(s, i["meeting"]).member(i["members"][n])
            notes.save_note(s, i["meeting"], i["members"][n], goal_ids=[line.goals[0].id],
                            intervention="Psychoeducation on triggers", response=f"{n} named two triggers",
                            plan="Continue IOP per plan", based_on={"response": "", "plan": ""})
        add(f"note {name}", note)
        add(f"note edit {name}", lambda s, i, n=name: notes.save_note(
            s, i["meeting"], i["members"][n], response=f"{n} named two triggers and one coping skill",
            based_on={"response": f"{n} named two triggers"}))
    add("step review", lambda s, i: live.set_step(s, i["meeting"], FlowStep.review))
    add("sign", lambda s, i: notes.sign(s, i["meeting"], i["lead"], at=START + dt.timedelta(hours=4)))
    return steps


def play(database: Any, steps: list[Step], start: int = 0, *, report: Callable[[int], None] | None = None) -> None:
    """Run steps ``start...`` one write transaction each (the step and its audit entry together)."""
    from iop_facilitator.services import audit

    for index in range(start, len(steps)):
        with database.begin() as s:
            ids = ids_of(s)
            steps[index].run(s, ids)
            s.flush()
            audit.record(s, STEP_ACTION, step=index)
        if report is not None:
            report(index)


def committed_steps(session: Any) -> list[int]:
    from sqlmodel import col, select

    from iop_facilitator.models import AuditEvent

    rows = session.exec(select(AuditEvent).where(AuditEvent.action == STEP_ACTION).order_by(col(AuditEvent.seq)))
    return [int(e.details["step"]) for e in rows]


def observe(session: Any) -> dict[str, Any]:
    """The meeting as plain values a leader would check (no ids, no clock times)."""
    from iop_facilitator.services import live_read

    meeting = ids_of(session)["meeting"]
    if meeting is None:
        return {"meeting": None}
    snap = live_read.load_snapshot(session, meeting)
    return {
        "status": snap.status.value, "flow": snap.flow_step, "topic": snap.topic_id, "prompts": snap.prompts_done,
        "topic_notes": snap.topic_notes, "homework": snap.homework, "narrative": snap.narrative,
        "ended": snap.actual_end is not None, "signed": snap.signed_at is not None,
        "members": {
            m.display_name: (
                m.status.value if m.status else None, m.mood, m.urge, m.checkout_mood, m.takeaway,
                tuple(s.text for s in m.stories), m.note and (m.note.goal_ids != (), m.note.intervention,
                                                             m.note.response, m.note.plan),
            )
            for m in snap.members
        },
    }


def main(argv: list[str]) -> int:
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.errors import DatabaseGone

    target = argv[0]
    start = int(argv[argv.index("--from") + 1]) if "--from" in argv else 0
    steps = script()
    database = open_database(target)
    print("ready", flush=True)
    try:
        play(database, steps, start, report=lambda index: print(f"step {index}", flush=True))
    except DatabaseGone:
        if "--rescue" not in argv:
            raise
        from iop_facilitator.services.maintenance import rescue_copy

        print(f"gone {rescue_copy(database)}", flush=True)
        return 3
    print("done", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run by the torture tests as a child process
    sys.exit(main(sys.argv[1:]))
