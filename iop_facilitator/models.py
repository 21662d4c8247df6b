"""Every database table, in one place.

Rules that hold for every table:

* primary keys are random UUIDs, so records made on several laptops can merge;
* datetimes are aware UTC (SQLModel's ``UTCDateTime`` refuses naive values);
  a meeting's *local* calendar day is stored separately as ``local_date``;
* records that people edit carry a ``version`` column used by SQLAlchemy's
  optimistic lock: a second, stale writer gets ``StaleDataError`` instead of
  silently overwriting the first;
* closed vocabularies are stored as short strings (non-native enums), so the
  same schema works on SQLite and PostgreSQL.

This module imports nothing else of ours except :mod:`iop_facilitator.enums`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from iop_facilitator.clock import utcnow
from iop_facilitator.enums import (
    AttendanceStatus,
    Audience,
    Enrollment,
    ExitReason,
    GroupStatus,
    GroupType,
    LevelOfCare,
    MeetingStatus,
    MemberStatus,
    Modality,
    NoteFormat,
    Participation,
    RiskLevel,
    RiskScreen,
    StaffRole,
    UseReport,
)

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEFAULT_DISCLOSURE_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."

DEFAULT_CRISIS_RESOURCES: list[dict[str, str]] = [
    {
        "name": "988 Suicide & Crisis Lifeline",
        "contact": "Call or text 988, or chat at 988lifeline.org",
        "when": "Thoughts of suicide, a mental health or substance use crisis",
    },
    {
        "name": "Emergency services",
        "contact": "911",
        "when": "Immediate danger to life",
    },
]

DEFAULT_CRISIS_STEPS: list[str] = [
    "Acknowledge calmly; do not spotlight the member in front of the group.",
    "Do not leave a member at imminent risk alone; ask a co-facilitator or colleague to stay.",
    "Screen privately at a break or right after group (for example the C-SSRS screener).",
    "Review or build a safety plan: warning signs, coping, people and places, professionals, a safe environment.",
    "Consult your supervisor and document the risk level and the disposition.",
]

DEFAULT_SERVICE_CODES: dict[str, str] = {
    "mh_iop_per_diem": "S9480",
    "sud_iop_per_diem": "H0015",
    "group_psychotherapy": "90853",
    "telehealth_modifier": "95",
    "group_modifier": "HQ",
}


def enum_type(enum_cls: type[Enum]) -> sa.Enum:
    """A portable string column for ``enum_cls``: stores the values, not native enums."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Record(SQLModel):
    """Columns every table has."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, nullable=False)


class Editable(Record):
    """A record people edit: last-change time and an optimistic-lock version."""

    updated_at: dt.datetime = Field(
        default_factory=utcnow, nullable=False, sa_column_kwargs={"onupdate": utcnow}
    )
    version: int = Field(default=1, nullable=False)

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class ProgramSettings(Editable, table=True):
    """The program's configuration: one row per database."""

    __tablename__ = "program_settings"

    clinic_name: str = Field(default="My IOP Program", max_length=200)
    timezone: str = Field(default="America/New_York", max_length=64)
    crisis_resources: list[dict[str, str]] = Field(
        default_factory=lambda: [dict(r) for r in DEFAULT_CRISIS_RESOURCES], sa_type=sa.JSON
    )
    crisis_steps: list[str] = Field(default_factory=lambda: list(DEFAULT_CRISIS_STEPS), sa_type=sa.JSON)
    disclosure_notice: str = Field(default=DEFAULT_DISCLOSURE_NOTICE, sa_type=sa.Text)
    max_absences: int = Field(default=6, ge=0)
    absence_window_weeks: int = Field(default=12, ge=1)
    service_codes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SERVICE_CODES), sa_type=sa.JSON
    )
    weekly_hours_adult: float = Field(default=9.0)
    weekly_hours_adolescent: float = Field(default=6.0)
    per_diem_daily_hours: float = Field(default=3.0)
    is_demo: bool = Field(default=False, nullable=False)
    # Minutes without a key press before the TUI locks itself (measured on a monotonic clock).
    idle_lock_minutes: int = Field(default=10, ge=1, le=240, sa_column_kwargs={"server_default": "10"})
    # The payer lens flags a goal rated "no change" in this many of a member's notes in a row.
    no_change_limit: int = Field(default=3, ge=2, le=12, sa_column_kwargs={"server_default": "3"})


class Staff(Editable, table=True):
    __tablename__ = "staff"

    name: str = Field(max_length=200, index=True)
    credentials: str = Field(default="", max_length=100)
    role: StaffRole = Field(default=StaffRole.facilitator, sa_type=enum_type(StaffRole))
    active: bool = Field(default=True, nullable=False)
    # Interns and unlicensed staff: their signed notes also need a supervisor's co-signature.
    requires_cosign: bool = Field(default=False, nullable=False, sa_column_kwargs={"server_default": sa.false()})


class Group(Editable, table=True):
    __tablename__ = "therapy_group"

    name: str = Field(max_length=200, index=True)
    group_type: GroupType = Field(default=GroupType.process, sa_type=enum_type(GroupType))
    enrollment: Enrollment = Field(default=Enrollment.open, sa_type=enum_type(Enrollment))
    weekdays: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    start_time: str = Field(default="09:00", max_length=5)  # local "HH:MM"
    duration_minutes: int = Field(default=180)
    status: GroupStatus = Field(default=GroupStatus.active, sa_type=enum_type(GroupStatus))
    level_of_care: LevelOfCare = Field(default=LevelOfCare.IOP, sa_type=enum_type(LevelOfCare))
    audience: Audience = Field(default=Audience.adult, sa_type=enum_type(Audience))
    modality: Modality = Field(default=Modality.in_person, sa_type=enum_type(Modality))
    location: str = Field(default="", max_length=200)
    capacity: int = Field(default=15)
    start_date: dt.date | None = None
    end_date: dt.date | None = None

    __table_args__ = (
        sa.CheckConstraint("duration_minutes > 0 AND duration_minutes <= 720", name="duration"),
        sa.CheckConstraint("capacity > 0", name="capacity"),
    )


class GroupFacilitator(Record, table=True):
    """A group's default facilitator(s); ``lead`` first, then co-facilitators."""

    __tablename__ = "group_facilitator"

    group_id: uuid.UUID = Field(foreign_key="therapy_group.id", index=True)
    staff_id: uuid.UUID = Field(foreign_key="staff.id")
    is_lead: bool = Field(default=True, nullable=False)

    __table_args__ = (sa.UniqueConstraint("group_id", "staff_id"),)


class Member(Editable, table=True):
    __tablename__ = "member"

    display_name: str = Field(max_length=100, index=True)  # preferred first name + last initial
    external_chart_id: str | None = Field(default=None, max_length=64, unique=True)
    status: MemberStatus = Field(default=MemberStatus.active, sa_type=enum_type(MemberStatus))


class GroupEnrollment(Editable, table=True):
    """A member's place in a group, from ``start_date`` until ``exit_date`` (if any)."""

    __tablename__ = "enrollment"

    group_id: uuid.UUID = Field(foreign_key="therapy_group.id", index=True)
    member_id: uuid.UUID = Field(foreign_key="member.id", index=True)
    start_date: dt.date
    exit_date: dt.date | None = None
    exit_reason: ExitReason | None = Field(default=None, sa_type=enum_type(ExitReason))
    exit_note: str = Field(default="", sa_type=sa.Text)

    __table_args__ = (
        sa.CheckConstraint("exit_date IS NULL OR exit_date >= start_date", name="exit_after_start"),
    )


class Goal(Editable, table=True):
    """A treatment-plan goal; each member has one to three active goals (positions 1-3)."""

    __tablename__ = "goal"

    member_id: uuid.UUID = Field(foreign_key="member.id", index=True)
    position: int
    text: str = Field(sa_type=sa.Text)
    active: bool = Field(default=True, nullable=False)

    __table_args__ = (
        sa.CheckConstraint("position BETWEEN 1 AND 3", name="position"),
        sa.UniqueConstraint("member_id", "position"),
    )


class GroupMeeting(Editable, table=True):
    """One occurrence of a group (a therapy *session*; named so to avoid SQLModel's Session)."""

    __tablename__ = "meeting"

    group_id: uuid.UUID = Field(foreign_key="therapy_group.id")
    local_date: dt.date
    scheduled_start: dt.datetime
    scheduled_end: dt.datetime
    actual_start: dt.datetime | None = None
    actual_end: dt.datetime | None = None
    modality: Modality = Field(default=Modality.in_person, sa_type=enum_type(Modality))
    location: str = Field(default="", max_length=200)
    facilitator_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")
    co_facilitator_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")
    topic_id: str | None = Field(default=None, max_length=100)
    topic_version: str | None = Field(default=None, max_length=32)
    topic_hash: str | None = Field(default=None, max_length=64)
    status: MeetingStatus = Field(default=MeetingStatus.draft, sa_type=enum_type(MeetingStatus))
    group_narrative: str = Field(default="", sa_type=sa.Text)
    note_format: NoteFormat = Field(default=NoteFormat.GIRP, sa_type=enum_type(NoteFormat))
    homework: str = Field(default="", sa_type=sa.Text)
    flow_step: str = Field(default="", max_length=32)  # where the live session flow stands
    topic_notes: str = Field(default="", sa_type=sa.Text, sa_column_kwargs={"server_default": ""})
    prompts_done: list[int] = Field(  # indexes of the discussion prompts ticked off
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": "[]"}
    )
    signed_by_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")
    signed_at: dt.datetime | None = None
    signer_credentials: str | None = Field(default=None, max_length=100)
    # SHA-256 of the meeting's canonical content at signing (tamper evidence; see services.integrity).
    content_hash: str | None = Field(default=None, max_length=64)
    cosigned_by_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")
    cosigned_at: dt.datetime | None = None
    cosigner_credentials: str | None = Field(default=None, max_length=100)
    # SHA-256 of the group narrative as the app last drafted it: while the narrative still equals
    # that draft (nobody edited it), it is redrafted when the meeting's facts change.
    narrative_drafted: str | None = Field(default=None, max_length=64)

    __table_args__ = (
        sa.Index("ix_meeting_group_date", "group_id", "local_date"),
        sa.Index("ix_meeting_local_date", "local_date"),
        sa.Index("ix_meeting_status", "status"),
        sa.Index("ix_meeting_scheduled_start", "scheduled_start"),  # newest first (meeting list --limit)
        # One meeting per group per scheduled start: two leaders pressing "start" together get
        # one meeting (services.live.start_meeting locks the group row; this is the backstop).
        # A unique *index*, not a constraint: SQLite adds it without rebuilding the table
        # (a rebuild would drop the lock triggers of migration 0005).
        sa.Index("uq_meeting_group_start", "group_id", "scheduled_start", unique=True),
        sa.CheckConstraint("scheduled_end > scheduled_start", name="scheduled_order"),
    )


class Attendance(Editable, table=True):
    """One member at one meeting: attendance, check-in and check-out."""

    __tablename__ = "attendance"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id")
    member_id: uuid.UUID = Field(foreign_key="member.id", index=True)
    status: AttendanceStatus = Field(sa_type=enum_type(AttendanceStatus))
    arrived_at: dt.datetime | None = None
    left_at: dt.datetime | None = None
    minutes_attended: int = Field(default=0)
    drop_in: bool = Field(default=False, nullable=False)
    checkin_mood: int | None = None
    checkin_urge: int | None = None
    checkin_feeling: str = Field(default="", max_length=60)
    safety_concern: bool = Field(default=False, nullable=False)
    checkout_mood: int | None = None
    checkout_takeaway: str = Field(default="", sa_type=sa.Text)
    # The staff member who last changed this row in the app (roll call, check-in, check-out).
    updated_by_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")

    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "member_id"),
        sa.CheckConstraint("minutes_attended >= 0", name="minutes"),
        sa.CheckConstraint("checkin_mood IS NULL OR checkin_mood BETWEEN 0 AND 10", name="checkin_mood"),
        sa.CheckConstraint("checkin_urge IS NULL OR checkin_urge BETWEEN 0 AND 10", name="checkin_urge"),
        sa.CheckConstraint(
            "checkout_mood IS NULL OR checkout_mood BETWEEN 0 AND 10", name="checkout_mood"
        ),
    )


class StoryNote(Editable, table=True):
    """A timestamped note taken while a member shares."""

    __tablename__ = "story_note"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    member_id: uuid.UUID = Field(foreign_key="member.id", index=True)
    recorded_at: dt.datetime = Field(default_factory=utcnow)
    text: str = Field(sa_type=sa.Text)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")


class ProgressNote(Editable, table=True):
    """A member's individualized note for one meeting (GIRP fields by default)."""

    __tablename__ = "progress_note"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id")
    member_id: uuid.UUID = Field(foreign_key="member.id", index=True)
    goal_ids: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    intervention: str = Field(default="", sa_type=sa.Text)
    response: str = Field(default="", sa_type=sa.Text)
    plan: str = Field(default="", sa_type=sa.Text)
    # Fields the app drafted: field name -> SHA-256 of the drafted text. A field whose text still
    # has that hash was not edited by anyone and is redrafted when its facts change; any other
    # text (typed, pasted, rewritten) is never overwritten.
    drafted: dict[str, str] = Field(
        default_factory=dict, sa_type=sa.JSON, sa_column_kwargs={"server_default": "{}"}
    )

    __table_args__ = (sa.UniqueConstraint("meeting_id", "member_id"),)


class NoteFacts(Editable, table=True):
    """What one member did in one meeting, in the terms a payer's reviewer looks for.

    The note's text fields are composed from these facts (``services.formats``); the
    ``observation`` is the leader's own sentence(s) about the member and is never drafted.
    One row per member and meeting, a part of the meeting like its progress note: locked
    by the database once the meeting is signed and covered by its content hash
    (``services.canonical``, format 3). Every field is optional: nothing recorded is
    ``None`` / empty, never a guess.
    """

    __tablename__ = "note_facts"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id")
    member_id: uuid.UUID = Field(foreign_key="member.id", index=True)
    # Progress per goal the note addresses (its ``goal_ids``): goal id -> {"progress": GoalProgress
    # value, "measure": optional measurable value as the leader wrote it, e.g. "slept 6 h 4 of 7 nights"}.
    goal_progress: dict[str, dict[str, str]] = Field(default_factory=dict, sa_type=sa.JSON)
    participation: Participation | None = Field(default=None, sa_type=enum_type(Participation))
    affect: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # enums.Affect values, as picked
    presentation: str = Field(default="", max_length=300)  # free text beside the pick list
    risk_screen: RiskScreen | None = Field(default=None, sa_type=enum_type(RiskScreen))
    # The meeting's safety event for this member that an "endorsed" screen refers to.
    safety_event_id: uuid.UUID | None = Field(default=None, foreign_key="safety_event.id")
    substance_use: UseReport | None = Field(default=None, sa_type=enum_type(UseReport))
    use_detail: str = Field(default="", max_length=300)  # what and when, as reported (optional)
    observation: str = Field(default="", sa_type=sa.Text)  # the leader's own words about this member
    # The text sections of the formats that progress_note does not hold (services.formats):
    # BIRP behavior; DAP data, assessment; SOAP subjective, objective, assessment.
    behavior: str = Field(default="", sa_type=sa.Text)
    data: str = Field(default="", sa_type=sa.Text)
    assessment: str = Field(default="", sa_type=sa.Text)
    subjective: str = Field(default="", sa_type=sa.Text)
    objective: str = Field(default="", sa_type=sa.Text)
    # Sections above the app drafted: name -> SHA-256 of the drafted text (as ProgressNote.drafted).
    drafted: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)

    __table_args__ = (sa.UniqueConstraint("meeting_id", "member_id"),)


class FollowUp(Editable, table=True):
    __tablename__ = "follow_up"

    member_id: uuid.UUID = Field(foreign_key="member.id", index=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id")
    reason: str = Field(sa_type=sa.Text)
    due_date: dt.date | None = Field(default=None, index=True)
    done: bool = Field(default=False, nullable=False)

    __table_args__ = (sa.Index("ix_follow_up_open_due", "done", "due_date"),)
    done_at: dt.datetime | None = None
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")


class Addendum(Record, table=True):
    """A correction to a meeting (or one member's part of it); never edited once written."""

    __tablename__ = "addendum"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    member_id: uuid.UUID | None = Field(default=None, foreign_key="member.id")
    author_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")
    author_credentials: str = Field(default="", max_length=100)
    reason: str = Field(default="", sa_type=sa.Text)
    text: str = Field(sa_type=sa.Text)


class SafetyEvent(Editable, table=True):
    """A safety concern raised during a meeting; it needs a disposition before the meeting is signed."""

    __tablename__ = "safety_event"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    member_id: uuid.UUID | None = Field(default=None, foreign_key="member.id")
    occurred_at: dt.datetime = Field(default_factory=utcnow)
    concern: str = Field(default="", sa_type=sa.Text)
    risk_level: RiskLevel = Field(default=RiskLevel.not_assessed, sa_type=enum_type(RiskLevel))
    disposition: str = Field(default="", sa_type=sa.Text)
    disposition_at: dt.datetime | None = None
    recorded_by_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")


class MeetingView(Record, table=True):
    """Where the live meeting stood on screen, so reopening it (even after a crash) returns there.

    Not part of the clinical record (never hashed, not locked by signing): the step's focused
    widget, the member under each step's cursor and the topic's segment timer. The timer keeps
    the seconds spent on each segment; while it runs, ``segment_running_since`` (aware UTC)
    says since when, so time keeps counting while the program is closed or killed.
    """

    __tablename__ = "meeting_view"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", sa_column_kwargs={"unique": True})
    focus: str = Field(default="", max_length=64)  # id of the focused widget in the shown step
    cursors: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)  # step -> member id (or key)
    segment_topic: str = Field(default="", max_length=200)  # the topic id and hash the timer belongs to
    segment_index: int = Field(default=0)
    segment_elapsed: list[float] = Field(default_factory=list, sa_type=sa.JSON)  # seconds per segment
    segment_running_since: dt.datetime | None = None
    updated_at: dt.datetime = Field(default_factory=utcnow, nullable=False)


class AuditEvent(Record, table=True):
    """Who did what to which record, and when. Holds ids, never note text or names."""

    __tablename__ = "audit_event"

    occurred_at: dt.datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64, index=True)
    record_type: str = Field(default="", max_length=64)
    record_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Hash chain: each entry's hash covers its own fields and the previous entry's hash,
    # in ``seq`` order, so a changed, removed or inserted entry breaks the chain.
    seq: int | None = Field(default=None, sa_column_kwargs={"unique": True})
    prev_hash: str | None = Field(default=None, max_length=64)
    entry_hash: str | None = Field(default=None, max_length=64)


class SignedSnapshot(Record, table=True):
    """What a signed meeting shows and bills, frozen when it was signed (one row per meeting).

    The meeting's own rows (attendance, notes, stories, safety events) are locked by
    triggers once signed; everything else a signed record shows lives in tables that stay
    editable (names, credentials, group settings, the program's timezone and codes), so
    it is copied here. ``snapshot_hash`` covers this row and the meeting's
    :class:`SignedMember` rows (``services.integrity``); a meeting signed by the app
    seals it inside its ``content_hash``. ``source``: ``signing`` (taken by the app when
    signing), ``migration`` (meetings signed before snapshots existed: the values at
    the upgrade), ``seed`` (the fictional demo clinic). ``anchor_id``: the audit entry
    that anchors a whole batch (migration, seed); NULL when the ``meeting.sign`` entry does.
    """

    __tablename__ = "signed_snapshot"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", sa_column_kwargs={"unique": True})
    source: str = Field(default="signing", max_length=16)
    clinic_name: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    disclosure_version: str = Field(default="", max_length=64)
    group_name: str = Field(default="", max_length=200)
    group_type: str = Field(default="", max_length=32)
    level_of_care: str = Field(default="", max_length=32)
    audience: str = Field(default="", max_length=32)
    modality: str = Field(default="", max_length=32)
    location: str = Field(default="", max_length=200)
    local_start: str = Field(default="", max_length=32)  # actual start, local "YYYY-MM-DD HH:MM"
    local_end: str = Field(default="", max_length=32)
    facilitator_name: str = Field(default="", max_length=200)
    facilitator_credentials: str = Field(default="", max_length=100)
    co_facilitator_name: str = Field(default="", max_length=200)
    co_facilitator_credentials: str = Field(default="", max_length=100)
    signer_name: str = Field(default="", max_length=200)
    requires_cosign: bool = Field(default=False, nullable=False, index=True)
    topic_title: str = Field(default="", max_length=200)
    service_code: str = Field(default="", max_length=64)  # billed for each attended member
    snapshot_hash: str = Field(default="", max_length=64)
    anchor_id: str | None = Field(default=None, max_length=64)


class SignedMember(Record, table=True):
    """One member of a signed meeting as the record shows them: name, chart id, goals addressed."""

    __tablename__ = "signed_member"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    member_id: uuid.UUID = Field(foreign_key="member.id")
    display_name: str = Field(default="", max_length=100)
    chart_id: str | None = Field(default=None, max_length=64)
    goals: list[list[Any]] = Field(default_factory=list, sa_type=sa.JSON)  # [[goal id, position, text], ...]

    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "member_id"),
        # Covering: every name a member was signed under, without sorting a row per meeting
        # (the notes export's redaction, exports.notes_data.name_index).
        sa.Index("ix_signed_member_member_name", "member_id", "display_name"),
    )


class SignedCosign(Record, table=True):
    """The co-signer of a meeting as at co-signing (name and credentials frozen; one row per meeting)."""

    __tablename__ = "signed_cosign"

    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", sa_column_kwargs={"unique": True})
    cosigner_id: uuid.UUID | None = Field(default=None, foreign_key="staff.id")
    cosigner_name: str = Field(default="", max_length=200)
    cosigner_credentials: str = Field(default="", max_length=100)
    cosigned_at: dt.datetime | None = None
    cosign_hash: str = Field(default="", max_length=64)
    anchor_id: str | None = Field(default=None, max_length=64)


class RowHistory(Record, table=True):
    """Prior values of reference data, written by database triggers on every UPDATE or DELETE.

    Staff, goals, groups, members and the program settings are edited in place; the
    row as it was before each change lands here (``old_row``, every column), so what a
    setting, a name or a goal said on any day can be shown (``iop audit --as-of``)
    however it was changed (the app, or raw SQL). Append-only (lock triggers).
    """

    __tablename__ = "row_history"

    table_name: str = Field(max_length=64)
    row_id: str = Field(max_length=64)
    operation: str = Field(max_length=8)  # update | delete
    changed_at: dt.datetime = Field(default_factory=utcnow)
    old_row: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)

    __table_args__ = (
        sa.Index("ix_row_history_row", "table_name", "row_id", "changed_at"),
        # ``iop db verify`` reads only the history written since its last checkpoint.
        sa.Index("ix_row_history_created_at", "created_at"),
    )


class VerifyCheckpoint(Record, table=True):
    """How far ``iop db verify`` has checked the database, hash-chained (one row per verified run).

    Written only after a verification that found nothing wrong, in one transaction with
    its audit entry (``verify.checkpoint``). The next ``iop db verify`` checks only what was
    written after it (``services.integrity``); ``--full`` checks everything again, every
    checkpoint included. ``checkpoint_hash`` covers every other column and ``prev_hash``
    (the previous checkpoint's ``checkpoint_hash``; the first links to 64 zeros), so an
    edited, removed or inserted checkpoint breaks the chain.
    """

    __tablename__ = "verify_checkpoint"

    seq: int = Field(sa_column_kwargs={"unique": True})
    mode: str = Field(max_length=16)  # full | incremental
    verified_at: dt.datetime = Field(default_factory=utcnow)
    # The audit chain was verified through entry ``audit_seq``, whose hash was ``audit_head``.
    audit_seq: int = 0
    audit_head: str = Field(default="", max_length=64)
    # Signed records covered so far (all of them, as counted at this point).
    meetings: int = 0
    snapshots: int = 0
    cosignatures: int = 0
    addenda: int = 0
    # Row history written before ``history_cut``: how many rows, and a digest chained from
    # the previous checkpoint's over the rows written since its cut.
    history_cut: dt.datetime | None = None
    history_rows: int = 0
    history_digest: str = Field(default="", max_length=64)
    prev_hash: str = Field(max_length=64)
    checkpoint_hash: str = Field(max_length=64)


TABLES: tuple[type[SQLModel], ...] = (
    ProgramSettings,
    Staff,
    Group,
    GroupFacilitator,
    Member,
    GroupEnrollment,
    Goal,
    GroupMeeting,
    Attendance,
    StoryNote,
    ProgressNote,
    NoteFacts,
    FollowUp,
    Addendum,
    SafetyEvent,
    MeetingView,
    AuditEvent,
    SignedSnapshot,
    SignedMember,
    SignedCosign,
    RowHistory,
    VerifyCheckpoint,
)
