"""The live meeting, read: :func:`load_snapshot` and the frozen values the screens show.

One read model of one meeting, in a handful of queries, as plain frozen dataclasses (no
ORM object leaves the session): the group and its schedule, the facilitators, every
member's line (roll call, check-in, stories, check-out, goals, their note and its facts), safety events,
and for a signed meeting its co-signature and addenda. A signed meeting shows what was
signed (names, goals, group, timezone from its signed snapshot, ``services.snapshot``),
never today's reference data. The meeting's commands are in ``services.live``; the
absence policy (counts, "near" and "past" the limit) in ``services.attendance``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from iop_facilitator.enums import ABSENT, ATTENDED, AttendanceStatus, FlowStep, MeetingStatus
from iop_facilitator.errors import NotFound
from iop_facilitator.models import (
    Attendance,
    Goal,
    Group,
    GroupMeeting,
    Member,
    NoteFacts,
    ProgressNote,
    SafetyEvent,
    Staff,
    StoryNote,
)
from iop_facilitator.services.attendance import absence_counts, absence_flags
from iop_facilitator.services.members import roster
from iop_facilitator.services.note_facts import EMPTY, FactsView
from iop_facilitator.services.note_facts import view as facts_view
from iop_facilitator.services.settings import get_settings


@dataclass(frozen=True)
class GoalView:
    id: str
    position: int
    text: str


def signed_goals(member: Any, text: Callable[[str], str] = str) -> tuple[GoalView, ...]:
    """A member's goals as their note selected them when signed (``snapshot.SnapshotMember.goals``)."""
    return tuple(GoalView(str(g[0]), int(g[1]), text(g[2])) for g in member.goals)


@dataclass(frozen=True)
class StoryView:
    id: uuid.UUID
    recorded_at: dt.datetime
    text: str


@dataclass(frozen=True)
class NoteView:
    goal_ids: tuple[str, ...]
    intervention: str
    response: str
    plan: str

    @property
    def complete(self) -> bool:
        return bool(self.goal_ids and self.intervention.strip() and self.response.strip() and self.plan.strip())


@dataclass(frozen=True)
class MemberLine:
    member_id: uuid.UUID
    display_name: str
    enrolled: bool
    status: AttendanceStatus | None
    drop_in: bool
    arrived_at: dt.datetime | None
    left_at: dt.datetime | None
    minutes: int
    mood: int | None
    urge: int | None
    feeling: str
    safety_concern: bool
    checkout_mood: int | None
    takeaway: str
    absences: int  # absences in the program's attendance window, including today
    near_limit: bool
    over_limit: bool
    goals: tuple[GoalView, ...]
    stories: tuple[StoryView, ...]
    note: NoteView | None
    facts: FactsView = EMPTY  # services.note_facts: progress, participation, affect, risk, use, observation

    @property
    def attended(self) -> bool:
        return self.status in ATTENDED


@dataclass(frozen=True)
class SafetyView:
    id: uuid.UUID
    member_id: uuid.UUID | None
    occurred_at: dt.datetime
    concern: str
    risk_level: str
    disposition: str


@dataclass(frozen=True)
class Snapshot:
    meeting_id: uuid.UUID
    group_id: uuid.UUID
    group_name: str
    group_type: str
    level_of_care: str
    timezone: str
    local_date: dt.date
    status: MeetingStatus
    flow_step: str
    scheduled_start: dt.datetime
    scheduled_end: dt.datetime
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None
    modality: str
    location: str
    facilitator: str | None
    facilitator_credentials: str
    co_facilitator: str | None
    topic_id: str | None
    topic_version: str | None
    topic_hash: str | None
    topic_notes: str
    prompts_done: tuple[int, ...]
    homework: str
    narrative: str
    note_format: str
    signed_at: dt.datetime | None
    signer: str | None
    signer_credentials: str | None
    facilitator_id: uuid.UUID | None
    max_absences: int
    members: tuple[MemberLine, ...]
    safety_events: tuple[SafetyView, ...] = field(default=())
    # Co-signature and addenda of a signed meeting (services.cosign, services.addenda).
    cosigner: str | None = None
    cosigner_credentials: str | None = None
    cosigned_at: dt.datetime | None = None
    requires_cosign: bool = False
    addenda: tuple[Any, ...] = field(default=())  # services.addenda.AddendumView, oldest first

    @property
    def awaiting_cosign(self) -> bool:
        return self.status == MeetingStatus.signed and self.requires_cosign and self.cosigned_at is None

    @property
    def present(self) -> int:
        return sum(1 for m in self.members if m.status in (AttendanceStatus.present, AttendanceStatus.left_early))

    @property
    def late(self) -> int:
        return sum(1 for m in self.members if m.status == AttendanceStatus.late)

    @property
    def absent(self) -> int:
        return sum(1 for m in self.members if m.status in ABSENT)

    @property
    def unmarked(self) -> int:
        return sum(1 for m in self.members if m.status is None)

    @property
    def attended(self) -> tuple[MemberLine, ...]:
        return tuple(m for m in self.members if m.attended)

    def member(self, member_id: uuid.UUID) -> MemberLine:
        return next(m for m in self.members if m.member_id == member_id)

    def with_attendance(self, parts: dict[uuid.UUID, dict[str, Any]]) -> Snapshot | None:
        """This snapshot with these members' attendance part (from :func:`reread_attendance`) in
        place of what it held; None when one of them is not on it (the roster changed: read the
        whole meeting again)."""
        from dataclasses import replace

        if not parts.keys() <= {m.member_id for m in self.members}:
            return None
        return replace(self, members=tuple(replace(m, **parts[m.member_id]) if m.member_id in parts else m
                                           for m in self.members))


def load_snapshot(session: Session, meeting_id: uuid.UUID) -> Snapshot:
    meeting = session.get(GroupMeeting, meeting_id)
    if meeting is None:
        raise NotFound("that meeting no longer exists")
    group = session.get_one(Group, meeting.group_id)
    program = get_settings(session)
    enrolled = roster(session, group, meeting.local_date)
    enrolled_ids = {m.id for m in enrolled}
    rows = {a.member_id: a for a in session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id))}
    extra = [session.get_one(Member, mid) for mid in rows if mid not in enrolled_ids]
    people = list(enrolled) + sorted(extra, key=lambda m: m.display_name.lower())
    lines = _member_lines(session, meeting, people, enrolled_ids, rows, program)
    limit = program.max_absences
    lead = session.get(Staff, meeting.facilitator_id) if meeting.facilitator_id else None
    co = session.get(Staff, meeting.co_facilitator_id) if meeting.co_facilitator_id else None
    signer = session.get(Staff, meeting.signed_by_id) if meeting.signed_by_id else None
    events = tuple(
        SafetyView(e.id, e.member_id, e.occurred_at, e.concern, e.risk_level.value, e.disposition)
        for e in session.exec(
            select(SafetyEvent).where(SafetyEvent.meeting_id == meeting_id).order_by(col(SafetyEvent.occurred_at))
        )
    )
    view = Snapshot(
        meeting_id=meeting.id,
        group_id=group.id,
        group_name=group.name,
        group_type=group.group_type.value,
        level_of_care=group.level_of_care.value,
        timezone=program.timezone,
        local_date=meeting.local_date,
        status=meeting.status,
        flow_step=meeting.flow_step or FlowStep.checkin.value,
        scheduled_start=meeting.scheduled_start,
        scheduled_end=meeting.scheduled_end,
        actual_start=meeting.actual_start,
        actual_end=meeting.actual_end,
        modality=meeting.modality.value,
        location=meeting.location,
        facilitator=lead.name if lead else None,
        facilitator_credentials=lead.credentials if lead else "",
        co_facilitator=co.name if co else None,
        topic_id=meeting.topic_id,
        topic_version=meeting.topic_version,
        topic_hash=meeting.topic_hash,
        topic_notes=meeting.topic_notes,
        prompts_done=tuple(meeting.prompts_done or ()),
        homework=meeting.homework,
        narrative=meeting.group_narrative,
        note_format=meeting.note_format.value,
        signed_at=meeting.signed_at,
        signer=signer.name if signer else None,
        signer_credentials=meeting.signer_credentials,
        facilitator_id=meeting.facilitator_id,
        max_absences=limit,
        members=lines,
        safety_events=events,
        **_signatures(session, meeting),
    )
    return view if meeting.status != MeetingStatus.signed else _as_signed(session, meeting, view, set(rows))


def _member_lines(
    session: Session, meeting: GroupMeeting, people: list[Member], enrolled_ids: set[uuid.UUID],
    rows: dict[uuid.UUID, Attendance], program: Any,
) -> tuple[MemberLine, ...]:
    """The lines of ``people`` (in that order): their attendance ``rows``, goals, stories, notes,
    facts and absences."""
    meeting_id = meeting.id
    ids = [m.id for m in people]
    goals: dict[uuid.UUID, list[GoalView]] = {i: [] for i in ids}
    if ids:
        for goal in session.exec(
            select(Goal).where(col(Goal.member_id).in_(ids), col(Goal.active).is_(True)).order_by(col(Goal.position))
        ):
            goals[goal.member_id].append(GoalView(str(goal.id), goal.position, goal.text))

    stories: dict[uuid.UUID, list[StoryView]] = {i: [] for i in ids}
    for story in session.exec(
        select(StoryNote).where(StoryNote.meeting_id == meeting_id).order_by(col(StoryNote.recorded_at))
    ):
        stories.setdefault(story.member_id, []).append(StoryView(story.id, story.recorded_at, story.text))
    notes = {
        n.member_id: NoteView(tuple(n.goal_ids or ()), n.intervention, n.response, n.plan)
        for n in session.exec(select(ProgressNote).where(ProgressNote.meeting_id == meeting_id))
    }
    facts = {
        row.member_id: facts_view(row, notes[row.member_id].goal_ids if row.member_id in notes else ())
        for row in session.exec(select(NoteFacts).where(NoteFacts.meeting_id == meeting_id))
    }
    absences = absence_counts(session, ids, until=meeting.local_date, weeks=program.absence_window_weeks)
    limit = program.max_absences
    lines = []
    for person in people:
        row = rows.get(person.id)
        count = absences.get(person.id, 0)
        lines.append(
            MemberLine(
                member_id=person.id,
                display_name=person.display_name,
                enrolled=person.id in enrolled_ids,
                **_attendance_part(row),
                absences=count,
                near_limit=absence_flags(count, limit)[0],
                over_limit=absence_flags(count, limit)[1],
                goals=tuple(goals.get(person.id, ())),
                stories=tuple(stories.get(person.id, ())),
                note=notes.get(person.id),
                facts=facts.get(person.id, EMPTY),
            )
        )
    return tuple(lines)


def reread_attendance(session: Session, meeting_id: uuid.UUID, member_ids: tuple[uuid.UUID, ...],
                      on: dt.date) -> dict[uuid.UUID, dict[str, Any]]:
    """The attendance part of these members' lines (of the meeting held ``on``) as stored now:
    status, times, check-in and check-out values, and the absence count they change, as
    ``MemberLine`` field values for :meth:`Snapshot.with_attendance`.

    One row per member and one count, no ORM objects: a roll-call, check-in or check-out key
    changes only its member's attendance row, so this is all that key changes on screen. The
    meeting screen runs it in the writer thread right after such a key's commit, in the same
    store job (``MeetingScreen.save``, ``Store.submit(then=...)``): what that commit stored.
    """
    if not member_ids:
        return {}
    ids = list(dict.fromkeys(member_ids))
    table = Attendance.__table__  # type: ignore[attr-defined]
    columns = [table.c.member_id, *(table.c[name] for name in _ATTENDANCE)]
    rows = {
        row[0]: dict(zip(_ATTENDANCE, row[1:]))
        for row in session.execute(
            select(*columns).where(table.c.meeting_id == meeting_id, col(table.c.member_id).in_(ids))
        )
    }
    program = get_settings(session)
    absences = absence_counts(session, ids, until=on, weeks=program.absence_window_weeks)
    parts = {}
    for member_id in ids:
        count = absences.get(member_id, 0)
        near, over = absence_flags(count, program.max_absences)
        parts[member_id] = {**_attendance_part(rows.get(member_id)), "absences": count, "near_limit": near,
                            "over_limit": over}
    return parts


#: The attendance row's columns a member's line shows (``_attendance_part``).
_ATTENDANCE = ("status", "drop_in", "arrived_at", "left_at", "minutes_attended", "checkin_mood", "checkin_urge",
               "checkin_feeling", "safety_concern", "checkout_mood", "checkout_takeaway")


def _attendance_part(row: Any) -> dict[str, Any]:
    """A line's attendance fields from an attendance row (an object or a dict of ``_ATTENDANCE``); None: no row."""
    def get(name: str) -> Any:
        return None if row is None else row[name] if isinstance(row, dict) else getattr(row, name)

    return {
        "status": get("status"),
        "drop_in": bool(get("drop_in")),
        "arrived_at": get("arrived_at"),
        "left_at": get("left_at"),
        "minutes": get("minutes_attended") or 0,
        "mood": get("checkin_mood"),
        "urge": get("checkin_urge"),
        "feeling": get("checkin_feeling") or "",
        "safety_concern": bool(get("safety_concern")),
        "checkout_mood": get("checkout_mood"),
        "takeaway": get("checkout_takeaway") or "",
    }


def _as_signed(session: Session, meeting: GroupMeeting, view: Snapshot, with_part: set[uuid.UUID]) -> Snapshot:
    """A signed meeting as it was signed: names, credentials, group, timezone and goals from its
    signed snapshot (``services.snapshot``), never today's reference data; only members with a part."""
    from dataclasses import replace

    from iop_facilitator.services import snapshot as frozen_values

    frozen = frozen_values.load(session, [meeting.id]).get(meeting.id)
    if frozen is None:
        return view
    lines = []
    for line in view.members:
        if line.member_id not in with_part:  # enrolled today, but not part of the signed record
            continue
        member = frozen.members.get(line.member_id)
        if member is None:
            lines.append(line)
            continue
        goals = signed_goals(member)
        lines.append(replace(line, display_name=member.display_name, goals=goals))
    return replace(
        view,
        group_name=frozen.group_name,
        group_type=frozen.group_type,
        level_of_care=frozen.level_of_care,
        timezone=frozen.timezone,
        facilitator=frozen.facilitator_name if view.facilitator is not None else None,
        facilitator_credentials=frozen.facilitator_credentials,
        co_facilitator=frozen.co_facilitator_name if view.co_facilitator is not None else None,
        signer=frozen.signer_name if view.signer is not None else None,
        cosigner=frozen.cosigner_name if frozen.cosigner_name is not None else view.cosigner,
        members=tuple(lines),
    )


def _signatures(session: Session, meeting: GroupMeeting) -> dict[str, Any]:
    """Co-signature and addenda: only a signed meeting has them."""
    if meeting.status != MeetingStatus.signed:
        return {}
    from iop_facilitator.services.addenda import list_addenda
    from iop_facilitator.services.cosign import needs_cosign

    cosigner = session.get(Staff, meeting.cosigned_by_id) if meeting.cosigned_by_id else None
    return {
        "cosigner": cosigner.name if cosigner else None,
        "cosigner_credentials": meeting.cosigner_credentials,
        "cosigned_at": meeting.cosigned_at,
        "requires_cosign": needs_cosign(session, meeting),
        "addenda": tuple(list_addenda(session, meeting.id)),
    }
