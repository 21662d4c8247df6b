"""Notes export, data layer: meetings gathered into plain documents, one per meeting.

:func:`iter_documents` streams :class:`NoteDocument` values (plain dataclasses, no ORM
objects leave the session) in chunks of meetings: each chunk costs a fixed handful of
queries batched by meeting id (attendance, members, notes, goals, stories, addenda,
safety events), so 78,000 meetings are ~400 chunks, never 78,000 round trips, and memory
stays bounded by the chunk size.

:func:`member_view` turns a meeting's document into what one member's chart may hold:
only that member's section, the group context, and every other member's name in free
text replaced by their initials (see :func:`redact`).

Renderers (``notes_md``, ``notes_json``, ``notes_pdf``, ``notes_fhir``) take these
documents and never touch the database.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from iop_facilitator.clock import to_local

if TYPE_CHECKING:
    from sqlmodel import Session

CHUNK = 200  # meetings per batch of queries
ATTENDED = ("present", "late", "left_early")


# --------------------------------------------------------------------------- the documents


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    credentials: str

    @property
    def signature(self) -> str:
        return f"{self.name}, {self.credentials}" if self.credentials else self.name


@dataclass(frozen=True)
class Signature:
    role: str  # "signer" | "co-signer"
    person: Person
    at: dt.datetime  # aware UTC
    credentials: str  # as recorded at signing time


@dataclass(frozen=True)
class GoalDoc:
    id: str
    position: int
    text: str


@dataclass(frozen=True)
class StoryDoc:
    recorded_at: dt.datetime
    text: str


@dataclass(frozen=True)
class AddendumDoc:
    id: str
    member_id: str | None  # None: about the whole meeting
    author: Person | None
    credentials: str
    written_at: dt.datetime
    reason: str
    text: str


@dataclass(frozen=True)
class SafetyDoc:
    id: str
    member_id: str | None
    occurred_at: dt.datetime
    concern: str
    risk_level: str
    disposition: str
    disposition_at: dt.datetime | None


@dataclass(frozen=True)
class MemberSection:
    member_id: str
    display_name: str
    initials: str
    chart_id: str | None
    status: str  # AttendanceStatus value
    drop_in: bool
    arrived_at: dt.datetime | None
    left_at: dt.datetime | None
    minutes: int
    checkin_mood: int | None
    checkin_urge: int | None
    checkin_feeling: str
    checkout_mood: int | None
    takeaway: str
    goals: tuple[GoalDoc, ...]  # the treatment-plan goals this note addresses
    intervention: str
    response: str
    plan: str
    has_note: bool
    stories: tuple[StoryDoc, ...] = ()
    addenda: tuple[AddendumDoc, ...] = ()
    safety_events: tuple[SafetyDoc, ...] = ()

    @property
    def attended(self) -> bool:
        return self.status in ATTENDED


@dataclass(frozen=True)
class NoteDocument:
    meeting_id: str
    group_id: str
    group_name: str
    group_type: str
    level_of_care: str
    audience: str
    timezone: str
    local_date: dt.date
    scheduled_start: dt.datetime
    scheduled_end: dt.datetime
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None
    modality: str
    location: str
    status: str  # MeetingStatus value
    note_format: str
    topic_id: str | None
    topic_title: str | None
    topic_version: str | None
    topic_hash: str | None
    facilitator: Person | None
    co_facilitator: Person | None
    signature: Signature | None
    cosignature: Signature | None
    content_hash: str | None
    narrative: str
    homework: str
    count_present: int
    members: tuple[MemberSection, ...]
    addenda: tuple[AddendumDoc, ...] = ()  # about the whole meeting
    safety_events: tuple[SafetyDoc, ...] = ()  # not tied to one member
    subject_member_id: str | None = None  # set by member_view: the one member this copy is for

    @property
    def signed(self) -> bool:
        return self.status == "signed" and self.signature is not None

    @property
    def duration_minutes(self) -> int | None:
        if self.actual_start is None or self.actual_end is None:
            return None
        return max(0, int((self.actual_end - self.actual_start).total_seconds() // 60))

    @property
    def attended(self) -> tuple[MemberSection, ...]:
        return tuple(m for m in self.members if m.attended)


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None
    until: dt.date | None = None
    group_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    include_unsigned: bool = False

    def describe(self) -> dict[str, Any]:
        """The filters as plain values (ids and dates only: safe for the audit log)."""
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "group": str(self.group_id) if self.group_id else None,
            "member": str(self.member_id) if self.member_id else None,
            "include_unsigned": self.include_unsigned,
        }


@dataclass(frozen=True)
class ExportContext:
    """What every rendered file says about itself."""

    program_name: str
    disclosure_notice: str
    timezone: str
    exported_at: dt.datetime  # aware UTC
    filters: dict[str, Any] = field(default_factory=dict)
    subject_member_id: str | None = None  # per-member files: whose chart this is


# --------------------------------------------------------------------------- helpers for renderers


def local_text(value: dt.datetime | None, tz: str, fmt: str = "YYYY-MM-DD HH:mm") -> str:
    local = to_local(value, tz)
    return local.format(fmt) if local else ""


def local_iso(value: dt.datetime | None, tz: str) -> str | None:
    local = to_local(value, tz)
    return local.isoformat() if local else None


def initials(display_name: str) -> str:
    """'Jordan M.' -> 'J.M.'; at most three letters, never the name itself."""
    words = [w for w in re.split(r"[\s.\-]+", display_name) if w]
    letters = [w[0].upper() for w in words if w[0].isalpha()][:3]
    return ".".join(letters) + "." if letters else "a peer"


# --------------------------------------------------------------------------- redaction


@dataclass(frozen=True)
class Redactor:
    """Replaces other members' names in free text with their initials."""

    pattern: re.Pattern[str] | None
    replacements: dict[str, str]

    def __call__(self, text: str) -> str:
        if not text or self.pattern is None:
            return text
        return self.pattern.sub(
            lambda m: self.replacements.get(" ".join(m.group(0).split()).casefold(), "a peer"), text
        )


# First names that are also everyday lowercase words: matched only when capitalised
# ("Will", "WILL"), so "he will call" is not rewritten. Any other first name is matched in
# any case ("jordan" too).
WORD_NAMES = frozenset(
    [
        "amber", "april", "art", "august", "autumn", "bill", "bob", "chance", "chase",
        "dawn", "don", "drew", "faith", "frank", "gene", "grace", "grant", "guy", "heather",
        "holly", "hope", "hunter", "iris", "ivy", "jack", "jade", "joy", "june", "lily",
        "mark", "max", "may", "olive", "pat", "pearl", "penny", "ray", "rich", "river",
        "rob", "rose", "ruby", "sandy", "sky", "sue", "summer", "sunny", "violet", "wade",
        "will"
    ]
)


def redactor_for(subject_name: str, others: Iterable[str]) -> Redactor:
    """A redactor hiding every name in ``others`` (display names) from ``subject_name``'s copy.

    The full display name ("Jordan M.", with or without its dot, any case) and the bare
    first name ("Jordan", any case; see :data:`WORD_NAMES`) become the other member's
    initials ("J.M."), as whole words. A bare first name that is also the subject's own
    first name is left alone: it reveals nothing beyond the subject's own name.
    """
    subject_first = _first_name(subject_name).casefold()
    subject_full = " ".join(subject_name.split()).casefold()
    replacements: dict[str, str] = {}
    any_case: set[str] = set()
    cased: set[str] = set()
    for name in others:
        full = " ".join(name.split())
        if not full or full.casefold() == subject_full:
            continue
        forms = [full] + ([full[:-1]] if full.endswith(".") else [])
        for form in forms:
            replacements.setdefault(form.casefold(), initials(full))
            any_case.add(form)
        first = _first_name(full)
        if len(first) >= 2 and first.casefold() != subject_first:
            replacements.setdefault(first.casefold(), initials(full))
            if first.casefold() in WORD_NAMES:
                cased.update({first[0].upper() + first[1:].lower(), first.upper()})
            else:
                any_case.add(first)
    if not replacements:
        return Redactor(None, {})

    def alternation(words: Iterable[str]) -> str:
        return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(set(words), key=len, reverse=True))

    parts = [f"(?i:{alternation(any_case)})"] if any_case else []
    if cased:
        parts.append(alternation(cased))
    # Whole words only: never inside a longer word ("Jordanian" stays).
    pattern = re.compile(rf"(?<![\w])(?:{'|'.join(parts)})(?![\w])")
    return Redactor(pattern, replacements)


def _first_name(display_name: str) -> str:
    words = display_name.split()
    return words[0].strip(".,") if words else ""


def member_view(doc: NoteDocument, member_id: str, other_names: Sequence[str] = ()) -> NoteDocument | None:
    """``doc`` as one member's chart may hold it, or None if the member is not in it.

    Keeps the group context (times, topic, facilitators, signatures, count present) and
    only this member's section; other members' sections, addenda and safety events are
    dropped, and every other member's name in the narrative, homework, this member's note,
    stories, addenda and group-level safety text is replaced by initials. ``other_names``
    adds names beyond the meeting's attendees (for example everyone enrolled in the group).
    """
    mine = next((m for m in doc.members if m.member_id == member_id), None)
    if mine is None:
        return None
    names = [m.display_name for m in doc.members if m.member_id != member_id] + list(other_names)
    hide = redactor_for(mine.display_name, names)
    section = replace(
        mine,
        checkin_feeling=hide(mine.checkin_feeling),
        takeaway=hide(mine.takeaway),
        goals=tuple(replace(g, text=hide(g.text)) for g in mine.goals),
        intervention=hide(mine.intervention),
        response=hide(mine.response),
        plan=hide(mine.plan),
        stories=tuple(replace(s, text=hide(s.text)) for s in mine.stories),
        addenda=tuple(replace(a, reason=hide(a.reason), text=hide(a.text)) for a in mine.addenda),
        safety_events=tuple(
            replace(e, concern=hide(e.concern), disposition=hide(e.disposition)) for e in mine.safety_events
        ),
    )
    return replace(
        doc,
        narrative=hide(doc.narrative),
        homework=hide(doc.homework),
        members=(section,),
        addenda=tuple(replace(a, reason=hide(a.reason), text=hide(a.text)) for a in doc.addenda),
        safety_events=tuple(
            replace(e, concern=hide(e.concern), disposition=hide(e.disposition)) for e in doc.safety_events
        ),
        subject_member_id=member_id,
    )


# --------------------------------------------------------------------------- gathering


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def meeting_ids(session: Session, filters: Filters) -> list[uuid.UUID]:
    """The ids of the meetings to export, oldest first (one light query)."""
    from sqlmodel import col, select

    from iop_facilitator.models import Attendance, GroupMeeting

    query = select(GroupMeeting.id).order_by(
        col(GroupMeeting.local_date), col(GroupMeeting.scheduled_start), col(GroupMeeting.id)
    )
    if filters.since is not None:
        query = query.where(col(GroupMeeting.local_date) >= filters.since)
    if filters.until is not None:
        query = query.where(col(GroupMeeting.local_date) <= filters.until)
    if filters.group_id is not None:
        query = query.where(GroupMeeting.group_id == filters.group_id)
    if not filters.include_unsigned:
        query = query.where(GroupMeeting.status == "signed")
    if filters.member_id is not None:
        query = query.where(
            col(GroupMeeting.id).in_(
                select(Attendance.meeting_id).where(Attendance.member_id == filters.member_id)
            )
        )
    return list(session.exec(query))


def member_ids(session: Session, filters: Filters) -> list[uuid.UUID]:
    """Members with an attendance row in the filtered meetings (for ``--per-member``)."""
    from sqlmodel import col, select

    from iop_facilitator.models import Attendance, GroupMeeting, Member

    query = (
        select(Member.id)
        .where(
            col(Member.id).in_(
                select(Attendance.member_id)
                .join(GroupMeeting, col(GroupMeeting.id) == col(Attendance.meeting_id))
                .where(*_meeting_conditions(filters))
            )
        )
        .order_by(col(Member.display_name), col(Member.id))
    )
    if filters.member_id is not None:
        query = query.where(Member.id == filters.member_id)
    return list(session.exec(query))


def _meeting_conditions(filters: Filters) -> list[Any]:
    from sqlmodel import col

    from iop_facilitator.models import GroupMeeting

    out: list[Any] = []
    if filters.since is not None:
        out.append(col(GroupMeeting.local_date) >= filters.since)
    if filters.until is not None:
        out.append(col(GroupMeeting.local_date) <= filters.until)
    if filters.group_id is not None:
        out.append(GroupMeeting.group_id == filters.group_id)
    if not filters.include_unsigned:
        out.append(GroupMeeting.status == "signed")
    return out


class _Cache:
    """Small reference tables (program, staff, groups, topic titles) read once per export."""

    def __init__(self, session: Session, topic_titles: dict[str, str] | None) -> None:
        from sqlmodel import select

        from iop_facilitator.models import Group, Staff
        from iop_facilitator.services.settings import get_settings

        program = get_settings(session)
        self.timezone = program.timezone
        self.staff = {
            s.id: Person(str(s.id), s.name, s.credentials) for s in session.exec(select(Staff))
        }
        self.groups = {g.id: g for g in session.exec(select(Group))}
        self.topic_titles = topic_titles if topic_titles is not None else library_titles()
        self.group_names: dict[uuid.UUID, list[str]] = {}

    def person(self, staff_id: uuid.UUID | None) -> Person | None:
        return self.staff.get(staff_id) if staff_id else None


def library_titles() -> dict[str, str]:
    try:
        from iop_facilitator.library.load import load_library

        return {tid: loaded.topic.title for tid, loaded in load_library().topics.items()}
    except Exception:  # noqa: BLE001 - a broken library must not stop an export; ids still print
        return {}


def group_member_names(session: Session, group_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Display names of everyone ever enrolled in each group (for redacting per-member copies)."""
    from sqlmodel import col, select

    from iop_facilitator.models import GroupEnrollment, Member

    ids = list(set(group_ids))
    out: dict[uuid.UUID, list[str]] = {g: [] for g in ids}
    if not ids:
        return out
    rows = session.exec(
        select(GroupEnrollment.group_id, Member.display_name)
        .join(Member, col(Member.id) == col(GroupEnrollment.member_id))
        .where(col(GroupEnrollment.group_id).in_(ids))
    )
    for group_id, name in rows:
        out[group_id].append(name)
    return out


def iter_documents(
    session: Session,
    filters: Filters,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    topic_titles: dict[str, str] | None = None,
    chunk: int = CHUNK,
) -> Iterator[NoteDocument]:
    """Every meeting matching ``filters`` as a :class:`NoteDocument`, oldest first.

    Pass ``ids`` (from :func:`meeting_ids`) to avoid a second id query; ``topic_titles``
    (topic id -> title) to skip loading the topic library (tests).
    """
    cache = _Cache(session, topic_titles)
    if ids is None:
        ids = meeting_ids(session, filters)
    for batch in _chunks(list(ids), chunk):
        yield from _load_batch(session, list(batch), cache)
        session.expunge_all()  # keep the identity map (and memory) bounded


def _load_batch(session: Session, ids: list[uuid.UUID], cache: _Cache) -> list[NoteDocument]:
    from sqlmodel import col, select

    from iop_facilitator.models import (
        Addendum,
        Attendance,
        Goal,
        GroupMeeting,
        Member,
        ProgressNote,
        SafetyEvent,
        StoryNote,
    )

    meetings = {m.id: m for m in session.exec(select(GroupMeeting).where(col(GroupMeeting.id).in_(ids)))}
    attendance: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for row in session.exec(select(Attendance).where(col(Attendance.meeting_id).in_(ids))):
        attendance[row.meeting_id].append(row)
    people = {a.member_id for rows in attendance.values() for a in rows}
    members = (
        {m.id: m for m in session.exec(select(Member).where(col(Member.id).in_(people)))} if people else {}
    )
    notes = {
        (n.meeting_id, n.member_id): n
        for n in session.exec(select(ProgressNote).where(col(ProgressNote.meeting_id).in_(ids)))
    }
    goal_ids = set()
    for n in notes.values():
        for g in n.goal_ids or ():
            try:
                goal_ids.add(uuid.UUID(str(g)))
            except ValueError:
                continue
    goals = (
        {str(g.id): GoalDoc(str(g.id), g.position, g.text) for g in session.exec(select(Goal).where(col(Goal.id).in_(goal_ids)))}
        if goal_ids
        else {}
    )
    stories: dict[tuple[uuid.UUID, uuid.UUID], list[StoryDoc]] = {}
    for s in session.exec(
        select(StoryNote).where(col(StoryNote.meeting_id).in_(ids)).order_by(col(StoryNote.recorded_at), col(StoryNote.id))
    ):
        stories.setdefault((s.meeting_id, s.member_id), []).append(StoryDoc(s.recorded_at, s.text))
    addenda: dict[uuid.UUID, list[AddendumDoc]] = {}
    for a in session.exec(
        select(Addendum).where(col(Addendum.meeting_id).in_(ids)).order_by(col(Addendum.created_at), col(Addendum.id))
    ):
        addenda.setdefault(a.meeting_id, []).append(
            AddendumDoc(
                id=str(a.id),
                member_id=str(a.member_id) if a.member_id else None,
                author=cache.person(a.author_id),
                credentials=a.author_credentials,
                written_at=a.created_at,
                reason=a.reason,
                text=a.text,
            )
        )
    safety: dict[uuid.UUID, list[SafetyDoc]] = {}
    for e in session.exec(
        select(SafetyEvent).where(col(SafetyEvent.meeting_id).in_(ids)).order_by(col(SafetyEvent.occurred_at), col(SafetyEvent.id))
    ):
        safety.setdefault(e.meeting_id, []).append(
            SafetyDoc(
                id=str(e.id),
                member_id=str(e.member_id) if e.member_id else None,
                occurred_at=e.occurred_at,
                concern=e.concern,
                risk_level=e.risk_level.value,
                disposition=e.disposition,
                disposition_at=e.disposition_at,
            )
        )

    out = []
    for meeting_id in ids:
        meeting = meetings.get(meeting_id)
        if meeting is None:  # deleted between the id query and this batch
            continue
        group = cache.groups.get(meeting.group_id)
        meeting_addenda = addenda.get(meeting_id, [])
        meeting_safety = safety.get(meeting_id, [])
        sections = []
        for row in attendance[meeting_id]:
            member = members[row.member_id]
            note = notes.get((meeting_id, row.member_id))
            mid = str(row.member_id)
            sections.append(
                MemberSection(
                    member_id=mid,
                    display_name=member.display_name,
                    initials=initials(member.display_name),
                    chart_id=member.external_chart_id,
                    status=row.status.value,
                    drop_in=row.drop_in,
                    arrived_at=row.arrived_at,
                    left_at=row.left_at,
                    minutes=row.minutes_attended,
                    checkin_mood=row.checkin_mood,
                    checkin_urge=row.checkin_urge,
                    checkin_feeling=row.checkin_feeling,
                    checkout_mood=row.checkout_mood,
                    takeaway=row.checkout_takeaway,
                    goals=tuple(goals[str(g)] for g in (note.goal_ids if note else ()) if str(g) in goals),
                    intervention=note.intervention if note else "",
                    response=note.response if note else "",
                    plan=note.plan if note else "",
                    has_note=note is not None,
                    stories=tuple(stories.get((meeting_id, row.member_id), ())),
                    addenda=tuple(a for a in meeting_addenda if a.member_id == mid),
                    safety_events=tuple(e for e in meeting_safety if e.member_id == mid),
                )
            )
        sections.sort(key=lambda s: (s.display_name.casefold(), s.member_id))
        signer = cache.person(meeting.signed_by_id)
        cosigner = cache.person(meeting.cosigned_by_id)
        out.append(
            NoteDocument(
                meeting_id=str(meeting.id),
                group_id=str(meeting.group_id),
                group_name=group.name if group else "",
                group_type=group.group_type.value if group else "",
                level_of_care=group.level_of_care.value if group else "",
                audience=group.audience.value if group else "",
                timezone=cache.timezone,
                local_date=meeting.local_date,
                scheduled_start=meeting.scheduled_start,
                scheduled_end=meeting.scheduled_end,
                actual_start=meeting.actual_start,
                actual_end=meeting.actual_end,
                modality=meeting.modality.value,
                location=meeting.location,
                status=meeting.status.value,
                note_format=meeting.note_format.value,
                topic_id=meeting.topic_id,
                topic_title=cache.topic_titles.get(meeting.topic_id) if meeting.topic_id else None,
                topic_version=meeting.topic_version,
                topic_hash=meeting.topic_hash,
                facilitator=cache.person(meeting.facilitator_id),
                co_facilitator=cache.person(meeting.co_facilitator_id),
                signature=(
                    Signature("signer", signer, meeting.signed_at, meeting.signer_credentials or signer.credentials)
                    if signer and meeting.signed_at
                    else None
                ),
                cosignature=(
                    Signature(
                        "co-signer", cosigner, meeting.cosigned_at, meeting.cosigner_credentials or cosigner.credentials
                    )
                    if cosigner and meeting.cosigned_at
                    else None
                ),
                content_hash=meeting.content_hash,
                narrative=meeting.group_narrative,
                homework=meeting.homework,
                count_present=sum(1 for s in sections if s.attended),
                members=tuple(sections),
                addenda=tuple(a for a in meeting_addenda if a.member_id is None),
                safety_events=tuple(e for e in meeting_safety if e.member_id is None),
            )
        )
    return out


def iter_member_documents(
    session: Session,
    filters: Filters,
    member_id: uuid.UUID,
    *,
    topic_titles: dict[str, str] | None = None,
    chunk: int = CHUNK,
) -> Iterator[NoteDocument]:
    """One member's copies (see :func:`member_view`) of every matching meeting they attended or missed."""
    scoped = replace(filters, member_id=member_id)
    ids = meeting_ids(session, scoped)
    names_by_group: dict[uuid.UUID, list[str]] = {}
    for doc in iter_documents(session, scoped, ids=ids, topic_titles=topic_titles, chunk=chunk):
        group_id = uuid.UUID(doc.group_id)
        if group_id not in names_by_group:
            names_by_group.update(group_member_names(session, [group_id]))
        view = member_view(doc, str(member_id), names_by_group.get(group_id, ()))
        if view is not None:
            yield view
