"""The live meeting's commands: start or resume, roll call and check-in, stories, topic, check-out.

Every function takes a ``Session`` and a meeting id, changes one small thing and
returns; the TUI commits each call at once (durable with SQLite's
``synchronous=FULL``). A signed meeting refuses every change
(:func:`editable_meeting`). What the screens show is read by
``services.live_read.load_snapshot``; minutes attended and the absence policy are
``services.attendance``'s.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlmodel import Session, col, select

from iop_facilitator.clock import local_today, utcnow
from iop_facilitator.db.transactions import lock_row
from iop_facilitator.enums import ATTENDED, AttendanceStatus, FlowStep, MeetingStatus, MemberStatus
from iop_facilitator.errors import Conflict, EditConflict, InvalidInput, NotFound
from iop_facilitator.models import (
    Attendance,
    FollowUp,
    Group,
    GroupMeeting,
    Member,
    Staff,
    StoryNote,
)
from iop_facilitator.services import audit
from iop_facilitator.services.attendance import minutes_for
from iop_facilitator.services.formats import draft_hash
from iop_facilitator.services.meetings import create_meeting
from iop_facilitator.services.members import add_member, enroll
from iop_facilitator.services.resolve import row as record
from iop_facilitator.services.settings import get_settings
from iop_facilitator.services.text import clean, clean_line
from iop_facilitator.services.topics import use_topic

UNSET: Any = object()
FEELING_MAX = 40
LATE_GRACE_MINUTES = 10  # undoing "left early" restores "late" for someone who came in after this
STORY_MAX = 4000
TAKEAWAY_MAX = 500


# --------------------------------------------------------------------------- guards and lookups


def editable_meeting(session: Session, meeting_id: uuid.UUID) -> GroupMeeting:
    """The meeting, locked for this write transaction (``db.transactions.lock_row``), if it may change.

    Every change to a meeting or its parts starts here, so changes to one meeting are
    serialised: on PostgreSQL a second writer waits on the row lock, on SQLite on the write
    lock, and then reads what the first committed.
    """
    meeting = lock_row(session, GroupMeeting, meeting_id)
    if meeting is None:
        raise NotFound("that meeting no longer exists")
    if meeting.status == MeetingStatus.signed:
        raise Conflict("this meeting is signed and locked; it can no longer be changed")
    return meeting


def _attendance(session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID) -> Attendance | None:
    return session.exec(
        select(Attendance).where(Attendance.meeting_id == meeting_id, Attendance.member_id == member_id)
    ).first()


def check_base(field: str, stored: Any, mine: Any, based_on: Any, *, app_draft: str | None = None) -> None:
    """Refuse a stale edit: ``based_on`` (the value the edit started from) must still be what is stored.

    Nothing to check when ``based_on`` is None (a caller that does not track it), or when
    the stored value already equals the new one (the same edit arriving twice). Values are
    compared in their stored form, so the caller passes what it showed or last saved.

    ``app_draft`` is the field's draft mark (:func:`draft_hash` of the text the app drafted).
    While the stored text is still exactly that draft, nobody wrote it: a leader's edit
    replaces it without a conflict, whatever it was based on (the app redrafts such fields
    when the facts change, which must not turn the leader's own typing into a conflict).
    """
    if based_on is None or stored == based_on or stored == mine:
        return
    if app_draft and stored is not None and app_draft == draft_hash(stored):
        return
    raise EditConflict(field, mine=_as_text(mine), theirs=_as_text(stored), base=_as_text(based_on))


def _as_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _rating(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or not 0 <= value <= 10:
        raise InvalidInput(f"{what} is a number from 0 to 10")
    return value


# --------------------------------------------------------------------------- start and steps


def find_meeting(session: Session, group: Group, day: dt.date) -> GroupMeeting | None:
    return session.exec(
        select(GroupMeeting)
        .where(GroupMeeting.group_id == group.id, GroupMeeting.local_date == day)
        .order_by(col(GroupMeeting.scheduled_start))
    ).first()


def start_meeting(
    session: Session,
    group: Group | uuid.UUID,
    day: dt.date | None = None,
    *,
    facilitator: Staff | uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> GroupMeeting:
    """Start the ``day`` meeting of ``group`` (creating it if needed), or resume it if it is under way.

    ``day`` defaults to today in the program's timezone; ``group`` and ``facilitator``
    may be records or ids (a facilitator id no staff record has any more, say a laptop's
    stale setting, starts the meeting without one).
    """
    group = record(session, Group, group, what="group")
    if isinstance(facilitator, uuid.UUID):
        facilitator = session.get(Staff, facilitator)
    if day is None:
        day = local_today(get_settings(session).timezone)
    # Two leaders pressing "start" together: the second waits here for the first's commit and
    # then resumes the meeting it created (a unique index on group and scheduled start backs this).
    lock_row(session, Group, group.id)
    meeting = find_meeting(session, group, day)
    if meeting is None:
        meeting = create_meeting(session, group, day, facilitator=facilitator)
    if meeting.status == MeetingStatus.signed:
        raise Conflict(f"the {day} meeting of {group.name} is already signed")
    if meeting.status == MeetingStatus.draft:
        meeting.status = MeetingStatus.in_progress
        meeting.actual_start = now or utcnow()
        meeting.flow_step = FlowStep.checkin.value
        if facilitator is not None:
            if meeting.facilitator_id not in (None, facilitator.id) and meeting.co_facilitator_id is None:
                meeting.co_facilitator_id = meeting.facilitator_id
            meeting.facilitator_id = facilitator.id
        session.add(meeting)
        session.flush()
        audit.record(session, "meeting.start", record_type="meeting", record_id=meeting.id, group=group.id)
    return meeting


def set_step(session: Session, meeting_id: uuid.UUID, step: FlowStep) -> None:
    meeting = editable_meeting(session, meeting_id)
    meeting.flow_step = FlowStep(step).value
    session.add(meeting)


# --------------------------------------------------------------------------- roll call and check-in


def mark(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    status: AttendanceStatus,
    *,
    at: dt.datetime | None = None,
    drop_in: bool | None = None,
    by: uuid.UUID | None = None,
) -> Attendance:
    """Set a member's attendance; arrival time is recorded the first time they are marked in.

    ``by`` is the staff member making the change (kept on the row as ``updated_by_id``).
    """
    meeting = editable_meeting(session, meeting_id)
    status = AttendanceStatus(status)
    row = _attendance(session, meeting_id, member_id)
    if row is None:
        row = Attendance(meeting_id=meeting_id, member_id=member_id, status=status)
    row.status = status
    _by(row, by)
    if drop_in is not None:
        row.drop_in = drop_in
    if status in ATTENDED:
        if row.arrived_at is None:
            row.arrived_at = at or utcnow()
        if status != AttendanceStatus.left_early:
            row.left_at = None
    else:
        row.arrived_at = None
        row.left_at = None
        row.minutes_attended = 0
    if meeting.actual_end is not None:
        row.minutes_attended = minutes_for(row, meeting)
    session.add(row)
    return row


def _by(row: Attendance, by: uuid.UUID | None) -> None:
    if by is not None:
        row.updated_by_id = by


def set_status(
    session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID, status: AttendanceStatus,
    *, by: uuid.UUID | None = None,
) -> None:
    """The roll-call key: :func:`mark`'s rules, in one statement when they allow it.

    A status key is pressed in front of the room and must be committed within a few
    milliseconds. While the meeting runs (not signed, no end time yet) and the member already
    has a row, every rule of :func:`mark` fits in one ``UPDATE`` (the arrival time kept or
    set now, the leaving time cleared, minutes zero for an absence, the optimistic-lock
    version bumped). Otherwise (a first mark, a finished or signed meeting) :func:`mark`
    does it, with its checks and messages.
    """
    import sqlalchemy as sa

    status = AttendanceStatus(status)
    table = Attendance.__table__  # type: ignore[attr-defined]
    now = sa.bindparam("now", utcnow(), type_=table.c.arrived_at.type)
    attended = status in ATTENDED
    values: dict[str, Any] = {
        "status": status,
        "arrived_at": sa.func.coalesce(table.c.arrived_at, now) if attended else None,
        "updated_at": now,
        "version": table.c.version + 1,
    }
    if status != AttendanceStatus.left_early:
        values["left_at"] = None
    if not attended:
        values["minutes_attended"] = 0
    if by is not None:
        values["updated_by_id"] = by
    meetings = GroupMeeting.__table__  # type: ignore[attr-defined]
    running = (
        sa.select(meetings.c.id)
        .where(meetings.c.id == meeting_id)
        .where(meetings.c.status != MeetingStatus.signed.value)
        .where(meetings.c.signed_at.is_(None), meetings.c.actual_end.is_(None))
        .exists()
    )
    result = session.execute(
        sa.update(table)
        .where(table.c.meeting_id == meeting_id, table.c.member_id == member_id, running)
        .values(**values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        mark(session, meeting_id, member_id, status, by=by)


def set_arrival(
    session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID, at: dt.datetime, *, by: uuid.UUID | None = None
) -> Attendance:
    """Correct an arrival time (a member who arrived before roll call, or was marked late)."""
    meeting = editable_meeting(session, meeting_id)
    row = _attendance(session, meeting_id, member_id)
    if row is None or row.status not in ATTENDED:
        raise InvalidInput("mark the member present or late before setting an arrival time")
    if row.left_at is not None and at > row.left_at:
        raise InvalidInput("the arrival time is after the time the member left")
    row.arrived_at = at
    _by(row, by)
    if meeting.actual_end is not None:
        row.minutes_attended = minutes_for(row, meeting)
    session.add(row)
    return row


def set_checkin(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    mood: int | None = UNSET,
    urge: int | None = UNSET,
    feeling: str = UNSET,
    safety_concern: bool = UNSET,
    imply_present: bool = False,
    feeling_based_on: str | None = None,
    by: uuid.UUID | None = None,
) -> Attendance:
    """The check-in round: mood, urge (0-10 or None), feeling word, safety flag.

    With ``imply_present`` a member not marked yet is marked present first (a rating typed
    for someone means they are here); a member marked absent is refused either way.
    ``feeling_based_on``: the feeling word the edit started from (see :func:`check_base`).
    """
    editable_meeting(session, meeting_id)
    row = _attendance(session, meeting_id, member_id)
    if row is None and imply_present:
        row = mark(session, meeting_id, member_id, AttendanceStatus.present, by=by)
    if row is None or row.status not in ATTENDED:
        raise InvalidInput("check-in ratings are for members who are here; mark them present or late first")
    if mood is not UNSET:
        row.checkin_mood = _rating(mood, "mood")
    if urge is not UNSET:
        row.checkin_urge = _rating(urge, "urge")
    if feeling is not UNSET:
        word = clean_line(feeling)
        if len(word) > FEELING_MAX:
            raise InvalidInput(f"the feeling word holds at most {FEELING_MAX} characters")
        check_base("feeling", row.checkin_feeling or "", word,
                   None if feeling_based_on is None else clean_line(feeling_based_on))
        row.checkin_feeling = word
    if safety_concern is not UNSET:
        row.safety_concern = bool(safety_concern)
    _by(row, by)
    session.add(row)
    return row


def add_drop_in(
    session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID, *, at: dt.datetime | None = None,
    by: uuid.UUID | None = None,
) -> Attendance:
    """A member who is not enrolled in this group joins today's meeting."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound("no such member")
    if member.status == MemberStatus.discharged:
        raise Conflict(f"{member.display_name} is discharged; readmit them first")
    row = mark(session, meeting_id, member_id, AttendanceStatus.present, at=at, drop_in=True, by=by)
    audit.record(session, "meeting.drop_in", record_type="attendance", record_id=row.id, meeting=meeting_id)
    return row


def add_new_member(
    session: Session, meeting_id: uuid.UUID, display_name: str, *, at: dt.datetime | None = None,
    by: uuid.UUID | None = None,
) -> Member:
    """A brand-new member: created, enrolled in the meeting's group from today, marked present."""
    meeting = editable_meeting(session, meeting_id)
    group = session.get_one(Group, meeting.group_id)
    member = add_member(session, display_name)
    enroll(session, member, group, meeting.local_date)
    mark(session, meeting_id, member.id, AttendanceStatus.present, at=at, by=by)
    return member


# --------------------------------------------------------------------------- stories and follow-ups


def _story_text(text: str) -> str:
    body = story_text(text)
    if len(body) > STORY_MAX:  # never cut silently: the screen warns before a paste would not fit
        raise InvalidInput(f"a story note holds at most {STORY_MAX:,} characters; this one has {len(body):,}")
    return body


def add_story(
    session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID, text: str, *, at: dt.datetime | None = None,
    author_id: uuid.UUID | None = None,
) -> StoryNote:
    editable_meeting(session, meeting_id)
    body = _story_text(text)
    note = StoryNote(meeting_id=meeting_id, member_id=member_id, recorded_at=at or utcnow(), text=body, author_id=author_id)
    session.add(note)
    session.flush()
    return note


def story_text(text: str) -> str:
    """A story note's text as it is stored (never cut: :func:`_story_text` refuses a longer one)."""
    return clean(text).strip()


def update_story(session: Session, story_id: uuid.UUID, text: str, *, based_on: str | None = None) -> StoryNote | None:
    """Replace a story note's text; an empty text deletes the note. Returns None when deleted.

    ``based_on``: the text the edit started from; if someone changed (or deleted) the note
    since, :class:`~iop_facilitator.errors.EditConflict` is raised and nothing changes.
    """
    body = _story_text(text)
    found = session.get(StoryNote, story_id)
    # Lock the meeting first, then the note: every writer takes a meeting's locks in that order.
    note = None
    if found is not None:
        editable_meeting(session, found.meeting_id)
        note = lock_row(session, StoryNote, story_id)
    if note is None:
        if based_on is not None:
            raise EditConflict("story", mine=body, theirs=None, base=story_text(based_on))
        raise NotFound("that story note no longer exists")
    check_base("story", note.text, body, None if based_on is None else story_text(based_on))
    if not body:
        session.delete(note)
        return None
    note.text = body
    session.add(note)
    return note


def add_follow_up(
    session: Session,
    member_id: uuid.UUID,
    reason: str,
    *,
    meeting_id: uuid.UUID | None = None,
    due: dt.date | None = None,
    created_by_id: uuid.UUID | None = None,
) -> FollowUp:
    text = clean_line(reason)
    if not text:
        raise InvalidInput("a follow-up needs a reason")
    if due is None:
        tz = get_settings(session).timezone
        from iop_facilitator.clock import local_today

        due = local_today(tz) + dt.timedelta(days=1)
    item = FollowUp(member_id=member_id, meeting_id=meeting_id, reason=text, due_date=due, created_by_id=created_by_id)
    session.add(item)
    session.flush()
    audit.record(session, "follow_up.add", record_type="follow_up", record_id=item.id, member=member_id)
    return item


def complete_follow_up(session: Session, follow_up_id: uuid.UUID) -> FollowUp:
    item = session.get(FollowUp, follow_up_id)
    if item is None:
        raise NotFound("that follow-up no longer exists")
    item.done, item.done_at = True, utcnow()
    session.add(item)
    audit.record(session, "follow_up.done", record_type="follow_up", record_id=item.id)
    return item


# --------------------------------------------------------------------------- topic


def choose_topic(session: Session, meeting_id: uuid.UUID, loaded: Any) -> GroupMeeting:
    meeting = editable_meeting(session, meeting_id)
    if meeting.topic_id != loaded.topic.id:
        meeting.prompts_done = []
    return use_topic(session, meeting, loaded)


def set_topic_notes(session: Session, meeting_id: uuid.UUID, text: str, *, based_on: str | None = None) -> None:
    """The facilitator's notes on the topic; ``based_on`` as for :func:`set_narrative`."""
    meeting = editable_meeting(session, meeting_id)
    body = clean(text)
    check_base("topic_notes", meeting.topic_notes, body, None if based_on is None else clean(based_on))
    meeting.topic_notes = body
    session.add(meeting)


def toggle_prompt(session: Session, meeting_id: uuid.UUID, index: int) -> list[int]:
    meeting = editable_meeting(session, meeting_id)
    done = set(meeting.prompts_done or [])
    done ^= {index}
    meeting.prompts_done = sorted(done)
    session.add(meeting)
    return meeting.prompts_done


# --------------------------------------------------------------------------- check-out and finish


def set_checkout(
    session: Session,
    meeting_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    mood: int | None = UNSET,
    takeaway: str = UNSET,
    takeaway_based_on: str | None = None,
    by: uuid.UUID | None = None,
) -> Attendance:
    """Check-out rating and takeaway; ``takeaway_based_on`` is the takeaway the edit started from."""
    editable_meeting(session, meeting_id)
    row = _attendance(session, meeting_id, member_id)
    if row is None or row.status not in ATTENDED:
        raise InvalidInput("check-out is for members who attended")
    if mood is not UNSET:
        row.checkout_mood = _rating(mood, "closing rating")
    if takeaway is not UNSET:
        body = clean(takeaway).strip()
        if len(body) > TAKEAWAY_MAX:
            raise InvalidInput(f"a takeaway holds at most {TAKEAWAY_MAX} characters")
        base = None if takeaway_based_on is None else clean(takeaway_based_on).strip()
        check_base("takeaway", row.checkout_takeaway, body, base)
        row.checkout_takeaway = body
    _by(row, by)
    session.add(row)
    return row


def set_left_early(
    session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID, at: dt.datetime | None,
    *, by: uuid.UUID | None = None,
) -> Attendance:
    """Record that a member left early at ``at`` (None undoes it: back to present)."""
    meeting = editable_meeting(session, meeting_id)
    row = _attendance(session, meeting_id, member_id)
    if row is None or row.status not in ATTENDED:
        raise InvalidInput("only a member who attended can leave early")
    if at is None:
        if row.status == AttendanceStatus.left_early:
            # Back to how they arrived: late when they came in after the grace period.
            late = (
                row.arrived_at is not None
                and meeting.actual_start is not None
                and row.arrived_at - meeting.actual_start > dt.timedelta(minutes=LATE_GRACE_MINUTES)
            )
            row.status = AttendanceStatus.late if late else AttendanceStatus.present
        row.left_at = None
    else:
        if row.arrived_at is not None and at < row.arrived_at:
            raise InvalidInput("the time the member left is before they arrived")
        row.status, row.left_at = AttendanceStatus.left_early, at
    _by(row, by)
    if meeting.actual_end is not None:
        row.minutes_attended = minutes_for(row, meeting)
    session.add(row)
    return row


def set_homework(session: Session, meeting_id: uuid.UUID, text: str, *, based_on: str | None = None) -> None:
    """The homework given to the group; ``based_on`` as for :func:`set_narrative`."""
    meeting = editable_meeting(session, meeting_id)
    body = clean(text).strip()
    check_base("homework", meeting.homework, body, None if based_on is None else clean(based_on).strip())
    meeting.homework = body
    session.add(meeting)


def set_narrative(session: Session, meeting_id: uuid.UUID, text: str, *, based_on: str | None = None) -> None:
    """The group narrative.

    ``based_on`` is the narrative this edit started from (what the screen showed, or what it
    saved last). When the stored narrative is no longer that (another screen saved
    meanwhile), :class:`~iop_facilitator.errors.EditConflict` is raised with both texts and
    nothing is written. None skips the check (callers that do not track it).
    """
    meeting = editable_meeting(session, meeting_id)
    body = clean(text)
    check_base("narrative", meeting.group_narrative, body, None if based_on is None else clean(based_on),
               app_draft=meeting.narrative_drafted)
    meeting.group_narrative = body
    session.add(meeting)


def set_times(
    session: Session, meeting_id: uuid.UUID, *, start: dt.datetime | None = UNSET, end: dt.datetime | None = UNSET
) -> GroupMeeting:
    """Correct the meeting's actual start or stop time; minutes attended follow."""
    meeting = editable_meeting(session, meeting_id)
    if start is not UNSET:
        meeting.actual_start = start
    if end is not UNSET:
        meeting.actual_end = end
    if meeting.actual_start and meeting.actual_end and meeting.actual_end <= meeting.actual_start:
        raise InvalidInput("the stop time must be after the start time")
    for row in session.exec(select(Attendance).where(Attendance.meeting_id == meeting_id)):
        row.minutes_attended = minutes_for(row, meeting)
        session.add(row)
    session.add(meeting)
    return meeting


def finish_meeting(session: Session, meeting_id: uuid.UUID, *, at: dt.datetime | None = None) -> GroupMeeting:
    """The group has ended: record the stop time, compute minutes, move on to the notes."""
    meeting = editable_meeting(session, meeting_id)
    if meeting.actual_end is None:
        meeting.actual_end = at or utcnow()
    meeting.status = MeetingStatus.completed
    if meeting.flow_step in ("", FlowStep.checkin, FlowStep.stories, FlowStep.topic, FlowStep.checkout):
        meeting.flow_step = FlowStep.notes.value
    set_times(session, meeting_id)
    audit.record(session, "meeting.finish", record_type="meeting", record_id=meeting.id)
    return meeting
