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
import itertools
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from iop_facilitator.clock import to_local
from iop_facilitator.enums import ATTENDED
from iop_facilitator.services.text import clean_stored

if TYPE_CHECKING:
    from sqlmodel import Session

    # One meeting, two read models: the live screens' (services.live_read) and this batch one
    # for exports; they share the values that are the same (a goal as selected, a story).
    from iop_facilitator.services.formats import Part
    from iop_facilitator.services.live_read import GoalView, StoryView

CHUNK = 200  # meetings per batch of queries


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
class FactsDoc:
    """A member's note facts as every format shows them (``services.note_facts``), text cleaned."""

    participation: str | None
    affect: tuple[str, ...]
    presentation: str
    risk_screen: str | None
    safety_event_id: str | None
    substance_use: str | None
    use_detail: str
    goal_progress: tuple[tuple[str, str | None, str], ...]  # (goal id, progress, measure)

    @property
    def empty(self) -> bool:
        return not (self.participation or self.affect or self.presentation or self.risk_screen
                    or self.substance_use or self.use_detail or self.goal_progress)


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
    goals: tuple[GoalView, ...]  # the treatment-plan goals this note addresses
    intervention: str
    response: str
    plan: str
    has_note: bool
    stories: tuple[StoryView, ...] = ()
    addenda: tuple[AddendumDoc, ...] = ()
    safety_events: tuple[SafetyDoc, ...] = ()
    # The note in its format (services.formats.note_parts): goals, then each section, the
    # leader's observation last in its section. What every renderer prints.
    parts: tuple[Part, ...] = ()
    facts: FactsDoc | None = None

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
    awaiting_cosign: bool = False  # signed, a supervisor's co-signature required at signing, none yet
    snapshot_source: str | None = None  # signed meetings: "signing" | "seed" | "migration" (see services.snapshot)
    disclosure_version: str = ""  # of the disclosure notice in force when signed
    service_code: str = ""  # billed for each attended member, as computed on the day of service

    @property
    def signed(self) -> bool:
        return self.status == "signed" and self.signature is not None

    @property
    def signature_state(self) -> str:
        """``signed``, ``awaiting co-signature`` or ``unsigned``: what every format says."""
        if not self.signed:
            return "unsigned"
        return "awaiting co-signature" if self.awaiting_cosign else "signed"

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

# Stored text as it may appear in a file: cleaned again on the way out (raw SQL, another
# client or a restored backup can bypass the cleaning on input).
out_text = clean_stored


def _clean_person(person: Person | None) -> Person | None:
    if person is None:
        return None
    return Person(person.id, out_text(person.name, single_line=True), out_text(person.credentials, single_line=True))


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


# --------------------------------------------------------------------------- redaction

_WORD = re.compile(r"\w+")
_GAP = re.compile(r"[\s.]*")  # what may stand between the words of one name ("Jordan M.", "Jordan  M")
_SEPARATE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\u3040-\u30ff\u0e00-\u0e7f]")  # scripts without spaces


def fold(text: str) -> str:
    """A name or word for matching: case-folded, without accents (NFKD, combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass
class _Tables:
    """Every known name, folded, with its owners (member ids) and each owner's initials."""

    full: dict[tuple[str, ...], dict[str, str]] = field(default_factory=dict)  # folded words -> {owner: mark}
    first: dict[str, dict[str, str]] = field(default_factory=dict)  # folded first name -> {owner: mark}
    cased: set[str] = field(default_factory=set)  # first names matched only when capitalised
    substrings: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # names without spaces
    longest: int = 1


@dataclass(frozen=True)
class Redactor:
    """Replaces other members' names in free text with their initials (or "a peer").

    Matching is by words (``\\w+``, Unicode-aware), case-insensitive and accent-insensitive
    ("Zoe" matches "Zoë"): a full display name ("Jordan M.", with or without its dot, any
    spacing) and a bare first name of at least two letters. Names in scripts written
    without spaces (CJK, Thai) are matched as substrings. A first name shared by several
    other members becomes "a peer" (the initials would guess); a bare first name that is
    also the subject's own is left alone (it tells nothing the reader does not know).
    First names that are everyday words (:data:`WORD_NAMES`) are matched only when
    capitalised ("Will", not "will"). The tables are built once per export
    (:class:`NameIndex`); a redactor only knows whose copy it makes.
    """

    tables: _Tables
    subject: str
    own_full: frozenset[tuple[str, ...]] = frozenset()
    own_first: frozenset[str] = frozenset()

    def _mark(self, owners: dict[str, str], *, first: bool) -> str | None:
        others = [mark for owner, mark in owners.items() if owner != self.subject]
        if not others:
            return None
        if first and len(others) > 1:
            return "a peer"
        return others[0]

    def __call__(self, text: str) -> str:
        t = self.tables
        if not text or not (t.full or t.first or t.substrings):
            return text
        out = self._words(text) if (t.full or t.first) else text
        for name, owners in t.substrings:
            if name in out:
                mark = self._mark(owners, first=False)
                if mark is not None:
                    out = out.replace(name, mark)
        return out

    def _words(self, text: str) -> str:
        t = self.tables
        words = list(_WORD.finditer(text))
        if not words:
            return text
        pieces: list[str] = []
        last = 0
        i = 0
        while i < len(words):
            done = False
            for size in range(min(t.longest, len(words) - i), 0, -1):
                group = words[i : i + size]
                if size > 1 and any(
                    not _GAP.fullmatch(text, a.end(), b.start()) for a, b in itertools.pairwise(group)
                ):
                    continue
                key = tuple(fold(w.group(0)) for w in group)
                replacement = None
                owners = t.full.get(key)
                if owners is not None and key not in self.own_full:
                    replacement = self._mark(owners, first=False)
                if replacement is None and size == 1 and key[0] not in self.own_first:
                    owners = t.first.get(key[0])
                    if owners is not None and not (key[0] in t.cased and not group[0].group(0)[:1].isupper()):
                        replacement = self._mark(owners, first=True)
                if replacement is None:
                    continue
                end = group[-1].end()
                if size > 1 and text[end : end + 1] == ".":
                    end += 1  # "Jordan M." -> the dot belongs to the name
                pieces += [text[last : group[0].start()], replacement]
                last, i, done = end, i + size, True
                break
            if not done:
                i += 1
        pieces.append(text[last:])
        return "".join(pieces)


class NameIndex:
    """Every member's names (current, as signed, and earlier ones), by member id, for redaction."""

    def __init__(self, names: dict[str, set[str]]) -> None:
        self.names = {mid: {" ".join(n.split()) for n in found if n and n.strip()} for mid, found in names.items()}
        self._tables: _Tables | None = None

    def add(self, member_id: str, name: str) -> None:
        name = " ".join((name or "").split())
        if name and name not in self.names.setdefault(member_id, set()):
            self.names[member_id].add(name)
            self._tables = None

    def tables(self) -> _Tables:
        if self._tables is not None:
            return self._tables
        t = _Tables()
        substrings: dict[str, dict[str, str]] = {}
        for mid, names in self.names.items():
            for name in names:
                mark, separate, words, given = _name_keys(name)
                if separate:
                    substrings.setdefault(name, {})[mid] = mark
                    compact = name.replace(" ", "")
                    if compact != name:
                        substrings.setdefault(compact, {})[mid] = mark
                if words:
                    t.full.setdefault(words, {})[mid] = mark
                if len(given) >= 2 and not _SEPARATE.search(given):
                    t.first.setdefault(given, {}).setdefault(mid, mark)
                    if given in WORD_NAMES:
                        t.cased.add(given)
        # Longest first, so "Mary Ann" wins over "Mary".
        t.substrings = sorted(substrings.items(), key=lambda kv: len(kv[0]), reverse=True)
        t.longest = max((len(k) for k in t.full), default=1)
        self._tables = t
        return t

    def redactor(self, subject_id: str | None, subject_names: Iterable[str] = ()) -> Redactor:
        key = subject_id or ""
        own = {" ".join(n.split()) for n in self.names.get(key, set())} | {" ".join(n.split()) for n in subject_names}
        return Redactor(
            self.tables(),
            key,
            frozenset(tuple(fold(w) for w in _WORD.findall(n)) for n in own),
            frozenset(fold(_first_name(n)) for n in own),
        )


@lru_cache(maxsize=1 << 16)
def _name_keys(name: str) -> tuple[str, bool, tuple[str, ...], str]:
    """A name's initials, whether it is written without spaces, its folded words and folded first name.

    Cached: a clinic's members share first names and initials, so ten years of members
    hold far fewer distinct names than members.
    """
    return initials(name), bool(_SEPARATE.search(name)), tuple(fold(w) for w in _WORD.findall(name)), fold(_first_name(name))


def redactor_for(subject_name: str, others: Iterable[str]) -> Redactor:
    """A redactor hiding every name in ``others`` (display names) from ``subject_name``'s copy."""
    index = NameIndex({f"other-{i}": {name} for i, name in enumerate(others)})
    return index.redactor("subject", [subject_name])


def _first_name(display_name: str) -> str:
    words = display_name.split()
    return words[0].strip(".,") if words else ""


def member_view(
    doc: NoteDocument, member_id: str, names: NameIndex | Sequence[str] | None = None
) -> NoteDocument | None:
    """``doc`` as one member's chart may hold it, or None if the member is not in it.

    Keeps the group context (times, topic, facilitators, signatures, count present) and
    only this member's section; other members' sections, addenda and safety events are
    dropped, and every other member's name in the narrative, homework, this member's note,
    stories, addenda and group-level safety text is replaced by initials. ``names`` is the
    clinic's :class:`NameIndex` (every member ever, see :func:`name_index`; per-member
    exports pass it) or extra display names; the meeting's own attendees are always added.
    """
    mine = next((m for m in doc.members if m.member_id == member_id), None)
    if mine is None:
        return None
    if isinstance(names, NameIndex):
        index = names
    else:
        index = NameIndex({f"extra-{i}": {n} for i, n in enumerate(names or ())})
    for m in doc.members:
        index.add(m.member_id, m.display_name)
    hide = index.redactor(member_id)
    section = replace(
        mine,
        checkin_feeling=hide(mine.checkin_feeling),
        takeaway=hide(mine.takeaway),
        goals=tuple(replace(g, text=hide(g.text)) for g in mine.goals),
        intervention=hide(mine.intervention),
        response=hide(mine.response),
        plan=hide(mine.plan),
        stories=tuple(replace(s, text=hide(s.text)) for s in mine.stories),
        parts=tuple(replace(p, paragraphs=tuple(hide(t) for t in p.paragraphs)) for p in mine.parts),
        facts=None if mine.facts is None else replace(
            mine.facts, presentation=hide(mine.facts.presentation), use_detail=hide(mine.facts.use_detail),
            goal_progress=tuple((g, p, hide(m)) for g, p, m in mine.facts.goal_progress),
        ),
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


def name_index(session: Session) -> NameIndex:
    """Every member's names: current, as frozen in signed snapshots, and earlier ones (row history).

    Read as plain driver values (no ORM or type processing per row): the clinic's every
    member, the distinct (member, name) pairs of its signed records (``signed_member``,
    read from the covering index ``ix_signed_member_member_name`` rather than sorting the
    table's row per member per meeting) and the members' earlier names.
    """
    import json

    import sqlalchemy as sa

    names: dict[str, set[str]] = {}
    conn = session.connection()
    keys: dict[Any, str] = {}

    def key(member_id: Any) -> str:
        found = keys.get(member_id)
        if found is None:  # SQLite: 32 hex digits; PostgreSQL: a UUID
            found = keys[member_id] = str(member_id if isinstance(member_id, uuid.UUID) else uuid.UUID(str(member_id)))
        return found

    def add(member_id: Any, name: Any) -> None:
        if name:
            names.setdefault(key(member_id), set()).add(str(name))

    for mid, name in conn.exec_driver_sql("SELECT id, display_name FROM member"):
        add(mid, name)
    for mid, name in conn.exec_driver_sql("SELECT DISTINCT member_id, display_name FROM signed_member"):
        add(mid, name)
    for rid, old in conn.execute(sa.text("SELECT row_id, old_row FROM row_history WHERE table_name = 'member'")):
        if isinstance(old, str):  # SQLite keeps JSON as text
            old = json.loads(old)
        if isinstance(old, dict):
            add(rid, old.get("display_name"))
    return NameIndex(names)


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


def chart_ids(session: Session, member_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """Each member's external chart id (None when they have none), in batches of 500."""
    from sqlmodel import col, select

    from iop_facilitator.models import Member

    out: dict[uuid.UUID, str | None] = {}
    for batch in _chunks(list(member_ids), 500):
        for mid, chart in session.exec(select(Member.id, Member.external_chart_id).where(col(Member.id).in_(batch))):
            out[mid] = chart
    return out


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
        # Earlier names of staff (row history, oldest change first): an addendum shows its
        # author as named when it was written.
        from iop_facilitator.models import RowHistory

        self.staff_history: dict[uuid.UUID, list[tuple[dt.datetime, str]]] = {}
        for entry in session.exec(
            select(RowHistory).where(RowHistory.table_name == "staff").order_by(RowHistory.changed_at)
        ):
            name = (entry.old_row or {}).get("name")
            if name:
                key = uuid.UUID(hex=str(entry.row_id).replace("-", ""))
                self.staff_history.setdefault(key, []).append((entry.changed_at, str(name)))

    def person(self, staff_id: uuid.UUID | None) -> Person | None:
        return self.staff.get(staff_id) if staff_id else None

    def person_at(self, staff_id: uuid.UUID | None, when: dt.datetime) -> Person | None:
        """The staff member as named at ``when`` (credentials are the caller's, frozen with the record)."""
        person = self.person(staff_id)
        if person is None:
            return None
        for changed_at, old_name in self.staff_history.get(staff_id, ()):
            if changed_at > when:
                return Person(person.id, old_name, person.credentials)
        return person


def library_titles() -> dict[str, str]:
    try:
        from iop_facilitator.library.load import load_library

        return {tid: loaded.topic.title for tid, loaded in load_library().topics.items()}
    except Exception:  # noqa: BLE001 - a broken library must not stop an export; ids still print
        return {}


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


def _facts_doc(facts: Any) -> FactsDoc | None:
    if facts is None or not any((facts.participation, facts.affect, facts.presentation, facts.risk_screen,
                                 facts.substance_use, facts.use_detail, facts.goal_progress)):
        return None
    return FactsDoc(
        participation=facts.participation,
        affect=tuple(facts.affect),
        presentation=out_text(facts.presentation, single_line=True),
        risk_screen=facts.risk_screen,
        safety_event_id=str(facts.safety_event_id) if facts.safety_event_id else None,
        substance_use=facts.substance_use,
        use_detail=out_text(facts.use_detail, single_line=True),
        goal_progress=tuple((g.goal_id, g.progress, out_text(g.measure, single_line=True)) for g in facts.goal_progress),
    )


def _load_batch(session: Session, ids: list[uuid.UUID], cache: _Cache) -> list[NoteDocument]:
    from sqlmodel import col, select

    from iop_facilitator.models import (
        Addendum,
        Attendance,
        Goal,
        GroupMeeting,
        Member,
        NoteFacts,
        ProgressNote,
        SafetyEvent,
        StoryNote,
    )
    from iop_facilitator.services import formats
    from iop_facilitator.services import note_facts as facts_service
    from iop_facilitator.services import snapshot as frozen_values
    from iop_facilitator.services.live_read import GoalView, StoryView, signed_goals

    meetings = {m.id: m for m in session.exec(select(GroupMeeting).where(col(GroupMeeting.id).in_(ids)))}
    # Signed meetings render from what was signed (names, goals, staff, group, timezone), never live tables.
    snaps = frozen_values.load(session, [m.id for m in meetings.values() if m.status.value == "signed"])
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
    facts_rows = {
        (f.meeting_id, f.member_id): f
        for f in session.exec(select(NoteFacts).where(col(NoteFacts.meeting_id).in_(ids)))
    }
    goal_ids = set()
    for n in notes.values():
        for g in n.goal_ids or ():
            try:
                goal_ids.add(uuid.UUID(str(g)))
            except ValueError:
                continue
    goals = (
        {str(g.id): GoalView(str(g.id), g.position, g.text) for g in session.exec(select(Goal).where(col(Goal.id).in_(goal_ids)))}
        if goal_ids
        else {}
    )
    stories: dict[tuple[uuid.UUID, uuid.UUID], list[StoryView]] = {}
    for s in session.exec(
        select(StoryNote).where(col(StoryNote.meeting_id).in_(ids)).order_by(col(StoryNote.recorded_at), col(StoryNote.id))
    ):
        stories.setdefault((s.meeting_id, s.member_id), []).append(StoryView(s.id, s.recorded_at, out_text(s.text)))
    addenda: dict[uuid.UUID, list[AddendumDoc]] = {}
    for a in session.exec(
        select(Addendum).where(col(Addendum.meeting_id).in_(ids)).order_by(col(Addendum.created_at), col(Addendum.id))
    ):
        addenda.setdefault(a.meeting_id, []).append(
            AddendumDoc(
                id=str(a.id),
                member_id=str(a.member_id) if a.member_id else None,
                author=_clean_person(cache.person_at(a.author_id, a.created_at)),
                credentials=out_text(a.author_credentials),
                written_at=a.created_at,
                reason=out_text(a.reason),
                text=out_text(a.text),
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
                concern=out_text(e.concern),
                risk_level=e.risk_level.value,
                disposition=out_text(e.disposition),
                disposition_at=e.disposition_at,
            )
        )

    out = []
    for meeting_id in ids:
        meeting = meetings.get(meeting_id)
        if meeting is None:  # deleted between the id query and this batch
            continue
        frozen = snaps.get(meeting_id)
        group = cache.groups.get(meeting.group_id)
        meeting_addenda = addenda.get(meeting_id, [])
        meeting_safety = safety.get(meeting_id, [])
        sections = []
        for row in attendance[meeting_id]:
            member = members[row.member_id]
            note = notes.get((meeting_id, row.member_id))
            mid = str(row.member_id)
            as_signed = frozen.members.get(row.member_id) if frozen is not None else None
            if frozen is not None:
                name = as_signed.display_name if as_signed else ""
                chart = as_signed.chart_id if as_signed else None
                chosen = signed_goals(as_signed, out_text) if as_signed else ()
            else:
                name, chart = member.display_name, member.external_chart_id
                chosen = tuple(goals[str(g)] for g in (note.goal_ids if note else ()) if str(g) in goals)
            name = out_text(name, single_line=True)
            facts = facts_service.view(facts_rows.get((meeting_id, row.member_id)), note.goal_ids if note else ())
            parts = tuple(
                formats.Part(p.key, p.heading, tuple(out_text(t) for t in p.paragraphs))
                for p in formats.note_parts(meeting.note_format.value, chosen, note, facts)
            )
            sections.append(
                MemberSection(
                    member_id=mid,
                    display_name=name,
                    initials=initials(name),
                    chart_id=out_text(chart, single_line=True) if chart else chart,
                    status=row.status.value,
                    drop_in=row.drop_in,
                    arrived_at=row.arrived_at,
                    left_at=row.left_at,
                    minutes=row.minutes_attended,
                    checkin_mood=row.checkin_mood,
                    checkin_urge=row.checkin_urge,
                    checkin_feeling=out_text(row.checkin_feeling),
                    checkout_mood=row.checkout_mood,
                    takeaway=out_text(row.checkout_takeaway),
                    goals=chosen,
                    intervention=out_text(note.intervention) if note else "",
                    response=out_text(note.response) if note else "",
                    plan=out_text(note.plan) if note else "",
                    has_note=note is not None,
                    stories=tuple(stories.get((meeting_id, row.member_id), ())),
                    parts=parts,
                    facts=_facts_doc(facts),
                    addenda=tuple(a for a in meeting_addenda if a.member_id == mid),
                    safety_events=tuple(e for e in meeting_safety if e.member_id == mid),
                )
            )
        sections.sort(key=lambda s: (s.display_name.casefold(), s.member_id))
        signer = cache.person(meeting.signed_by_id)
        cosigner = cache.person(meeting.cosigned_by_id)
        lead = cache.person(meeting.facilitator_id)
        co = cache.person(meeting.co_facilitator_id)
        title = cache.topic_titles.get(meeting.topic_id) if meeting.topic_id else None
        values = {
            "group_name": group.name if group else "",
            "group_type": group.group_type.value if group else "",
            "level_of_care": group.level_of_care.value if group else "",
            "audience": group.audience.value if group else "",
            "timezone": cache.timezone,
        }
        if frozen is not None:
            values = {
                "group_name": frozen.group_name, "group_type": frozen.group_type,
                "level_of_care": frozen.level_of_care, "audience": frozen.audience, "timezone": frozen.timezone,
            }
            lead = Person(lead.id, frozen.facilitator_name, frozen.facilitator_credentials) if lead else None
            co = Person(co.id, frozen.co_facilitator_name, frozen.co_facilitator_credentials) if co else None
            if signer is not None:
                signer = Person(signer.id, frozen.signer_name, meeting.signer_credentials or "")
            if cosigner is not None and frozen.cosigner_name is not None:
                cosigner = Person(cosigner.id, frozen.cosigner_name, frozen.cosigner_credentials or "")
            title = frozen.topic_title or title  # upgraded meetings kept no title: the library's for the same guide
        out.append(
            NoteDocument(
                meeting_id=str(meeting.id),
                group_id=str(meeting.group_id),
                group_name=out_text(values["group_name"], single_line=True),
                group_type=values["group_type"],
                level_of_care=values["level_of_care"],
                audience=values["audience"],
                timezone=values["timezone"],
                local_date=meeting.local_date,
                scheduled_start=meeting.scheduled_start,
                scheduled_end=meeting.scheduled_end,
                actual_start=meeting.actual_start,
                actual_end=meeting.actual_end,
                modality=meeting.modality.value,
                location=out_text(meeting.location, single_line=True),
                status=meeting.status.value,
                note_format=meeting.note_format.value,
                topic_id=meeting.topic_id,
                topic_title=title,
                topic_version=meeting.topic_version,
                topic_hash=meeting.topic_hash,
                facilitator=_clean_person(lead),
                co_facilitator=_clean_person(co),
                signature=(
                    Signature("signer", _clean_person(signer), meeting.signed_at, meeting.signer_credentials or signer.credentials)
                    if signer and meeting.signed_at
                    else None
                ),
                cosignature=(
                    Signature(
                        "co-signer", _clean_person(cosigner), meeting.cosigned_at,
                        meeting.cosigner_credentials or cosigner.credentials,
                    )
                    if cosigner and meeting.cosigned_at
                    else None
                ),
                content_hash=meeting.content_hash,
                narrative=out_text(meeting.group_narrative),
                homework=out_text(meeting.homework),
                count_present=sum(1 for s in sections if s.attended),
                members=tuple(sections),
                addenda=tuple(a for a in meeting_addenda if a.member_id is None),
                safety_events=tuple(e for e in meeting_safety if e.member_id is None),
                awaiting_cosign=frozen_values.awaiting_cosign(frozen, meeting.cosigned_at),
                snapshot_source=frozen.source if frozen else None,
                disclosure_version=frozen.disclosure_version if frozen else "",
                service_code=frozen.service_code if frozen else "",
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
    names: NameIndex | None = None,
) -> Iterator[NoteDocument]:
    """One member's copies (see :func:`member_view`) of every matching meeting they attended or missed.

    Every other member's name the clinic has ever recorded is hidden, whichever group
    they were in (``names``: pass one :func:`name_index` for many members).
    """
    scoped = replace(filters, member_id=member_id)
    ids = meeting_ids(session, scoped)
    index = names if names is not None else name_index(session)
    for doc in iter_documents(session, scoped, ids=ids, topic_titles=topic_titles, chunk=chunk):
        view = member_view(doc, str(member_id), index)
        if view is not None:
            yield view
