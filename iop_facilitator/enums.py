"""Closed vocabularies of the data model.

Pure Python (no SQLAlchemy) so the CLI can use them as option types without
paying for the database imports. Values are what is stored and exported.
"""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    facilitator = "facilitator"
    supervisor = "supervisor"
    admin = "admin"


class GroupType(StrEnum):
    process = "process"
    psychoeducation = "psychoeducation"
    skills = "skills"
    relapse_prevention = "relapse_prevention"
    family = "family"
    support = "support"
    other = "other"


class Enrollment(StrEnum):
    open = "open"
    closed = "closed"


class GroupStatus(StrEnum):
    active = "active"
    finished = "finished"
    canceled = "canceled"


class LevelOfCare(StrEnum):
    OP = "OP"
    IOP = "IOP"
    PHP = "PHP"


class Audience(StrEnum):
    adult = "adult"
    adolescent = "adolescent"


class MemberStatus(StrEnum):
    active = "active"
    on_hold = "on_hold"
    discharged = "discharged"


class ExitReason(StrEnum):
    completed = "completed"
    stepped_up = "stepped_up"
    stepped_down = "stepped_down"
    transferred = "transferred"
    left_treatment = "left_treatment"
    administrative = "administrative"
    other = "other"


class Modality(StrEnum):
    in_person = "in_person"
    telehealth = "telehealth"


class MeetingStatus(StrEnum):
    draft = "draft"
    in_progress = "in_progress"
    completed = "completed"
    signed = "signed"


class NoteFormat(StrEnum):
    GIRP = "GIRP"
    BIRP = "BIRP"
    DAP = "DAP"
    SOAP = "SOAP"


class AttendanceStatus(StrEnum):
    present = "present"
    late = "late"
    left_early = "left_early"
    absent_excused = "absent_excused"
    absent_unexcused = "absent_unexcused"
    cancelled = "cancelled"

    @property
    def attended(self) -> bool:
        return self in ATTENDED

    @property
    def is_absence(self) -> bool:
        return self in ABSENT


# Who was in the room (billed, counted, rated) and who counts towards the absence limit.
# StrEnum members equal their values, so ``"late" in ATTENDED`` holds for stored strings too.
ATTENDED: tuple[AttendanceStatus, ...] = (AttendanceStatus.present, AttendanceStatus.late, AttendanceStatus.left_early)
ABSENT: tuple[AttendanceStatus, ...] = (AttendanceStatus.absent_excused, AttendanceStatus.absent_unexcused)


class RiskLevel(StrEnum):
    not_assessed = "not_assessed"
    low = "low"
    moderate = "moderate"
    high = "high"
    imminent = "imminent"


class FlowStep(StrEnum):
    """The steps of a live meeting, in order."""

    checkin = "checkin"
    stories = "stories"
    topic = "topic"
    checkout = "checkout"
    notes = "notes"
    review = "review"


WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --------------------------------------------------------------------------- a member's note facts
# What a payer's reviewer looks for in each member's note (services.note_facts). Stored values:
# never rename one that is in use.


class GoalProgress(StrEnum):
    """Progress on one treatment-plan goal addressed in this meeting."""

    improved = "improved"
    no_change = "no_change"
    worse = "worse"


class Participation(StrEnum):
    """How the member took part (one pick)."""

    active = "active"  # volunteered, engaged with peers
    engaged_when_prompted = "engaged_when_prompted"
    minimal = "minimal"  # brief answers only
    listened = "listened"  # attentive, did not speak
    disruptive = "disruptive"


class Affect(StrEnum):
    """The member's affect and presentation as observed (a short pick list; several may apply)."""

    euthymic = "euthymic"
    bright = "bright"
    anxious = "anxious"
    depressed = "depressed"
    irritable = "irritable"
    flat = "flat"
    tearful = "tearful"
    guarded = "guarded"
    labile = "labile"
    tired = "tired"


class RiskScreen(StrEnum):
    """Suicidal or homicidal thoughts this session, as screened."""

    denied = "denied"
    endorsed = "endorsed"  # always linked to the meeting's safety event for the member


class UseReport(StrEnum):
    """Substance use since the last session, as the member reported it."""

    none = "none"
    used = "used"
    declined = "declined"  # declined to say
