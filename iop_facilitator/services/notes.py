"""Individualized notes, the payer-ready checklist, and signing.

Drafts are built from one member's own line of the meeting snapshot
(:class:`~iop_facilitator.services.live.MemberLine`) and nothing else, so a
member's note can never pick up another member's check-in or story.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from iop_facilitator.clock import to_local, utcnow
from iop_facilitator.enums import AttendanceStatus, FlowStep
from iop_facilitator.errors import Conflict, InvalidInput, NotFound
from iop_facilitator.models import Goal, GroupMeeting, ProgressNote, Staff
from iop_facilitator.services import audit
from iop_facilitator.services.live import (
    UNSET,
    MemberLine,
    Snapshot,
    check_base,
    editable_meeting,
    load_snapshot,
)
from iop_facilitator.services.text import clean


@dataclass(frozen=True)
class Draft:
    goal_ids: tuple[str, ...]
    intervention: str
    response: str
    plan: str


def draft_intervention(snapshot: Snapshot, topic: Any | None) -> str:
    """The shared intervention text, from the day's topic guide (editable per member)."""
    kind = snapshot.group_type.replace("_", " ")
    if topic is None:
        return f"Facilitated {kind} group: check-in, member sharing with supportive feedback, check-out."
    t = topic.topic
    methods = []
    kinds = {s.kind.value for s in t.segments}
    if "didactic" in kinds:
        methods.append("psychoeducation")
    if "discussion" in kinds:
        methods.append("guided group discussion")
    methods.append(f"structured activity ({t.activity.name})")
    if "practice" in kinds:
        methods.append("skills practice")
    return (
        f"Facilitated {kind} group on \"{t.title}\" (guide {t.id} v{t.version}) using "
        f"{', '.join(methods)}. Focus: {t.summary}"
    )


def _hhmm(value: dt.datetime | None, tz: str) -> str:
    local = to_local(value, tz)
    return local.format("HH:mm") if local else ""


def draft_response(line: MemberLine, snapshot: Snapshot) -> str:
    """What this member said and did, from their own check-in, stories and check-out only."""
    tz = snapshot.timezone
    parts = []
    if line.status == AttendanceStatus.late:
        parts.append(f"Arrived late ({_hhmm(line.arrived_at, tz)}).")
    checkin = []
    if line.mood is not None:
        checkin.append(f"mood {line.mood}/10")
    if line.urge is not None:
        checkin.append(f"urge {line.urge}/10")
    if line.feeling:
        checkin.append(f"feeling \"{line.feeling}\"")
    if checkin:
        parts.append(f"At check-in reported {', '.join(checkin)}.")
    if line.safety_concern:
        parts.append("Reported a safety concern at check-in; followed up per program crisis steps.")
    for story in line.stories:
        parts.append(f"Shared: {story.text.strip()}")
    closing = []
    if line.checkout_mood is not None:
        closing.append(f"closing rating {line.checkout_mood}/10")
    if line.takeaway:
        closing.append(f"takeaway \"{line.takeaway.strip()}\"")
    if closing:
        parts.append(f"At check-out: {', '.join(closing)}.")
    if line.status == AttendanceStatus.left_early:
        parts.append(f"Left early at {_hhmm(line.left_at, tz)}.")
    return " ".join(parts) if parts else "Attended and listened; did not share during this group."


def draft_plan(line: MemberLine, snapshot: Snapshot) -> str:
    parts = [f"Continue {snapshot.level_of_care} group per treatment plan."]
    if snapshot.homework:
        parts.append(f"Homework: {snapshot.homework.strip()}")
    if line.safety_concern or any(e.member_id == line.member_id for e in snapshot.safety_events):
        parts.append("Follow up on today's safety concern with the primary clinician.")
    if line.near_limit:
        parts.append("Review attendance with the member (near the program's absence limit).")
    return " ".join(parts)


def draft_note(line: MemberLine, snapshot: Snapshot, topic: Any | None) -> Draft:
    goal_ids = tuple(line.note.goal_ids) if line.note and line.note.goal_ids else tuple(g.id for g in line.goals[:1])
    return Draft(goal_ids, draft_intervention(snapshot, topic), draft_response(line, snapshot), draft_plan(line, snapshot))


def save_note(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    goal_ids: list[str] | tuple[str, ...] = UNSET,
    intervention: str = UNSET,
    response: str = UNSET,
    plan: str = UNSET,
    based_on: Mapping[str, Any] | None = None,
) -> ProgressNote:
    """Save fields of one member's note (creating it on first save).

    ``based_on`` maps a field being saved (``goal_ids``, ``intervention``, ``response``,
    ``plan``) to the value the edit started from (what the screen showed or saved last).
    If any of them is no longer what is stored, another screen saved that field meanwhile:
    :class:`~iop_facilitator.errors.EditConflict` (``field`` ``"note.<name>"``, both texts)
    is raised and nothing is written. A field missing from ``based_on`` is not checked. A
    note that does not exist yet is compared as empty.
    """
    editable_meeting(session, meeting_id)
    note = session.exec(
        select(ProgressNote)
        .where(ProgressNote.meeting_id == meeting_id, ProgressNote.member_id == member_id)
        .execution_options(populate_existing=True)
    ).first()
    if note is None:
        note = ProgressNote(meeting_id=meeting_id, member_id=member_id, goal_ids=[], intervention="", response="", plan="")
    bases = dict(based_on or {})
    unknown = set(bases) - set(NOTE_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown note field(s): {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    if goal_ids is not UNSET:
        own = {str(g.id) for g in session.exec(select(Goal).where(Goal.member_id == member_id))}
        picked = [str(g) for g in goal_ids]
        if not set(picked) <= own:
            raise InvalidInput("a note can only address the member's own treatment-plan goals")
        changes["goal_ids"] = picked
    for name, value in (("intervention", intervention), ("response", response), ("plan", plan)):
        if value is not UNSET:
            changes[name] = clean(value)
    for name, value in changes.items():
        if name in bases and bases[name] is not None:
            base = [str(g) for g in bases[name]] if name == "goal_ids" else clean(bases[name])
            stored = list(note.goal_ids or []) if name == "goal_ids" else getattr(note, name)
            check_base(f"note.{name}", stored, value, base)
    for name, value in changes.items():
        setattr(note, name, value)
    session.add(note)
    return note


NOTE_FIELDS = ("goal_ids", "intervention", "response", "plan")


@dataclass(frozen=True)
class CheckItem:
    key: str
    label: str
    ok: bool
    step: FlowStep
    member_id: uuid.UUID | None = None


def checklist(snapshot: Snapshot) -> list[CheckItem]:
    """What a payer-ready group note needs, in the order a reviewer reads it."""
    items = [
        CheckItem("start", "Start time recorded", snapshot.actual_start is not None, FlowStep.checkin),
        CheckItem("stop", "Stop time recorded (finish the group)", snapshot.actual_end is not None, FlowStep.checkout),
        CheckItem(
            "roll",
            f"Attendance for every enrolled member ({snapshot.present + snapshot.late} present)",
            snapshot.unmarked == 0 and bool(snapshot.members),
            FlowStep.checkin,
        ),
        CheckItem("topic", "Topic (curriculum) recorded", snapshot.topic_id is not None, FlowStep.topic),
        CheckItem(
            "facilitator",
            "Facilitator with credentials",
            bool(snapshot.facilitator and snapshot.facilitator_credentials.strip()),
            FlowStep.review,
        ),
        CheckItem("narrative", "Group narrative written", bool(snapshot.narrative.strip()), FlowStep.notes),
    ]
    for line in snapshot.attended:
        items.append(
            CheckItem(
                f"note:{line.member_id}",
                f"Individualized note for {line.display_name} (goal, intervention, response, plan)",
                bool(line.note and line.note.complete),
                FlowStep.notes,
                line.member_id,
            )
        )
    for event in snapshot.safety_events:
        who = next((m.display_name for m in snapshot.members if m.member_id == event.member_id), "the group")
        items.append(
            CheckItem(
                f"safety:{event.id}",
                f"Disposition of the safety event for {who}",
                bool(event.disposition.strip()),
                FlowStep.review,
                event.member_id,
            )
        )
    return items


def missing(snapshot: Snapshot) -> list[CheckItem]:
    return [item for item in checklist(snapshot) if not item.ok]


def sign(
    session: Session,
    meeting_id: uuid.UUID,
    signer_id: uuid.UUID,
    *,
    at: dt.datetime | None = None,
    topic_title: str | None = None,
) -> GroupMeeting:
    """Sign and lock the meeting: signer, credentials, time, the signed snapshot and its hash.

    Runs under the meeting's write lock (``integrity.lock_meeting``, taken before any
    read), so the hash covers exactly what is committed: a co-leader's write racing
    the signature either lands first (and is signed) or is refused after.
    Refused while anything on the checklist is missing.
    """
    from iop_facilitator.services.integrity import lock_meeting, seal

    lock_meeting(session, meeting_id)
    session.get(GroupMeeting, meeting_id, populate_existing=True)  # read again under the lock
    meeting = editable_meeting(session, meeting_id)
    signer = session.get(Staff, signer_id)
    if signer is None:
        raise NotFound("the signer is not a staff member of this program")
    if not signer.credentials.strip():
        raise InvalidInput(f"{signer.name} has no credentials on file; add them before signing")
    gaps = missing(load_snapshot(session, meeting_id))
    if gaps:
        raise Conflict(f"cannot sign yet: {len(gaps)} item(s) missing, first: {gaps[0].label}")
    # Status, signer, time and content hash in one UPDATE (the lock triggers refuse a second one).
    _meeting, snapshot_hash = seal(session, meeting, signer=signer, signed_at=at or utcnow(), topic_title=topic_title)
    meeting.flow_step = FlowStep.review.value
    session.add(meeting)
    session.flush()
    audit.record(
        session, "meeting.sign", record_type="meeting", record_id=meeting.id, signer=signer.id,
        content_hash=meeting.content_hash, snapshot_hash=snapshot_hash,
    )
    return meeting
