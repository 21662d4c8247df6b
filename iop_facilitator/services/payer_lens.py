"""The payer lens: what an auditor reading a meeting's notes would question, per member and field.

Payers deny and claw back group claims whose individual notes look cloned. This lens
reads the notes as such a reviewer does, and flags, for each attended member:

``no_observation`` (field ``observation``)
    nothing in the note was written by the leader: no observation, and every sentence of
    every section is the app's own (``wording.TEMPLATES``, older drafts' stock sentences)
    or group-wide text (narrative, homework, the group's intervention).
``similar`` (the field, and the other member)
    two members' leader-written parts of the same field are near-identical.
``repeat`` (the field)
    a member's leader-written part (not the plan: see ``plan_unchanged``) is near-identical to
    the one in their previous note.
``plan_unchanged`` (``plan``)
    the plan is the same as in the member's previous note although they reported use or
    progress on a goal got worse.
``stuck_goal`` (``goals``)
    the same goal rated "no change" in the member's last N notes that addressed it
    (N: ``ProgramSettings.no_change_limit``, default 3).
``name`` (the field, or ``story``)
    a section, the observation or a story note names another member of the meeting.
``risk_unscreened`` (``risk_screen``)
    a safety concern at check-in or a safety event for the member, and no risk screen.

What it ignores: text the app generated for the whole group or for any member
(``wording.is_app_sentence``; the old drafts' :data:`STOCK_SENTENCES`), the group
narrative and homework, and the intervention sentences members share (the group's method).
"Near-identical" compares leader-written text with the member's own name masked: a
repeated sentence of at least :data:`MIN_SENTENCE_WORDS` words, a word-level
``difflib`` ratio of at least :data:`SIMILARITY_THRESHOLD` (both at least
:data:`MIN_COMPARE_WORDS` words), or for short texts (at least :data:`SHORT_MIN_WORDS`
words) the same words or a ratio of at least :data:`SHORT_THRESHOLD`.

The rules are pure (:func:`review`, over :class:`MeetingNotes`); :func:`review_meeting`
and :func:`review_range` read what they need from the database in batches
(:func:`notes_of_meetings`: a fixed handful of queries per 200 meetings, and one query per
batch for the members' earlier notes). Flags name members (for
the screen and for staff): never log them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iop_facilitator.services.names import find_names, name_patterns
from iop_facilitator.services.text import clean
from iop_facilitator.services.wording import is_app_sentence

if TYPE_CHECKING:
    from sqlmodel import Session

MIN_SENTENCE_WORDS = 8
MIN_COMPARE_WORDS = 12
SIMILARITY_THRESHOLD = 0.8
SHORT_MIN_WORDS = 4
SHORT_THRESHOLD = 0.85
DEFAULT_NO_CHANGE_LIMIT = 3

# Stock sentences of the drafts before issue 13 (still in notes written then): standard, not cloning.
STOCK_SENTENCES = (
    re.compile(r"^continue \w+ group per treatment plan$"),
    re.compile(r"^follow up on today s safety concern with the primary clinician$"),
    re.compile(r"^review attendance with the member near the program s absence limit$"),
    re.compile(r"^reported a safety concern at check in followed up per program crisis steps$"),
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")


# --------------------------------------------------------------------------- text


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ? and at line breaks), stripped, non-empty."""
    return [s.strip() for s in _SENTENCE_END.split(clean(text)) if s and s.strip()]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'").replace("'", " "))


def normalise(sentence: str) -> str:
    """Lower case, words and digits only, single spaces: how sentences are compared."""
    return " ".join(words(sentence))


def is_stock(sentence: str) -> bool:
    """The app's own sentences: today's draft templates and the older drafts' stock."""
    if is_app_sentence(sentence):
        return True
    norm = normalise(sentence)
    return any(p.match(norm) for p in STOCK_SENTENCES)


def group_sentences(*texts: str) -> set[str]:
    """Normalised sentences of group-level text (homework, narrative, intervention): legitimately shared."""
    out: set[str] = set()
    for text in texts:
        out.update(normalise(s) for s in split_sentences(text or ""))
    out.discard("")
    return out


def leader_sentences(text: str, shared: Iterable[str] = ()) -> list[str]:
    """The sentences of ``text`` a person wrote: not the app's, not group-level."""
    skip = set(shared)
    return [s for s in split_sentences(text) if normalise(s) not in skip and not is_stock(s)]


def repeated_sentences(a: list[str], b: list[str], *, min_words: int = MIN_SENTENCE_WORDS) -> tuple[str, ...]:
    """Sentences of ``a`` (as written) whose normalised form is also in ``b`` and long enough to matter."""
    theirs = {normalise(s) for s in b}
    seen: set[str] = set()
    out = []
    for sentence in a:
        norm = normalise(sentence)
        if len(norm.split()) >= min_words and norm in theirs and norm not in seen:
            seen.add(norm)
            out.append(sentence)
    return tuple(out)


_NUMBER = re.compile(r"\d+")


def compare(a: list[str], b: list[str]) -> tuple[tuple[str, ...], float, bool]:
    """(repeated sentences, word-level ratio, flagged) for two lists of leader-written sentences.

    Numbers are compared as "a number": notes that differ only in their numbers are clones.
    """
    repeated = repeated_sentences(a, b)
    if not repeated:
        masked = repeated_sentences([_NUMBER.sub("0", x) for x in a], [_NUMBER.sub("0", x) for x in b])
        repeated = tuple(x for x in a if _NUMBER.sub("0", x) in masked)
    wa, wb = (words(_NUMBER.sub("0", " ".join(x))) for x in (a, b))
    if not wa or not wb:
        return repeated, 0.0, bool(repeated)
    ratio = difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()
    shortest = min(len(wa), len(wb))
    if shortest >= MIN_COMPARE_WORDS:
        flagged = ratio >= SIMILARITY_THRESHOLD
    else:
        flagged = shortest >= SHORT_MIN_WORDS and (wa == wb or ratio >= SHORT_THRESHOLD)
    return repeated, ratio, bool(repeated) or flagged


# --------------------------------------------------------------------------- what the lens reads


@dataclass(frozen=True)
class NoteInput:
    """One member's note as the lens reads it (plain values)."""

    member_id: uuid.UUID
    display_name: str
    sections: Mapping[str, str]  # section key -> stored text (every text section of the format)
    observation: str = ""
    goal_progress: tuple[tuple[str, str | None], ...] = ()  # (goal id, progress) for the goals addressed
    goal_labels: Mapping[str, str] = field(default_factory=dict)  # goal id -> "goal 2"
    substance_use: str | None = None
    risk_screen: str | None = None
    safety_flagged: bool = False  # a check-in concern or a safety event for the member
    stories: tuple[str, ...] = ()
    meeting_id: uuid.UUID | None = None
    local_date: dt.date | None = None

    @property
    def plan(self) -> str:
        return self.sections.get("plan", "")


@dataclass(frozen=True)
class MeetingNotes:
    meeting_id: uuid.UUID
    local_date: dt.date
    group_name: str
    narrative: str
    homework: str
    notes: tuple[NoteInput, ...]  # attended members with a note or facts
    people: tuple[tuple[uuid.UUID, str], ...] = ()  # everyone in the meeting, for names


@dataclass(frozen=True)
class Flag:
    kind: str
    member_id: uuid.UUID
    member: str  # display name: for the screen and staff output, never for logs
    field: str  # where to go: a section key, "observation", "goals", "risk_screen" or "story"
    message: str
    meeting_id: uuid.UUID | None = None
    other_member_id: uuid.UUID | None = None
    other_meeting_id: uuid.UUID | None = None
    sentences: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    ratio: float | None = None


# --------------------------------------------------------------------------- the rules (pure)


def _mask_own(text: str, display_name: str) -> str:
    """The member's own names replaced by one token, so clones with the names swapped compare equal."""
    names = {display_name.strip(), *(re.findall(r"[^\W\d_][\w'\u2019-]*", display_name)[:1])}
    for name in sorted((n for n in names if len(n) >= 2), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "the member", text, flags=re.IGNORECASE)
    return text


def leader_parts(note: NoteInput, shared: set[str]) -> dict[str, list[str]]:
    """Field -> the leader-written sentences of it (own name masked); fields without any are left out."""
    out: dict[str, list[str]] = {}
    observation = [_mask_own(s, note.display_name) for s in split_sentences(note.observation)]
    if observation:
        out["observation"] = observation
    for key, text in note.sections.items():
        mine = [_mask_own(s, note.display_name) for s in leader_sentences(text, shared)]
        if mine:
            out[key] = mine
    return out


def _what(repeated: tuple[str, ...], ratio: float) -> str:
    return f"{len(repeated)} repeated sentence(s)" if repeated else f"{round(ratio * 100)}% alike"


def _label(field_name: str) -> str:
    return {"observation": "observation", "goals": "goals"}.get(field_name, field_name.replace("_", " "))


def review(
    meeting: MeetingNotes,
    previous: Mapping[uuid.UUID, Sequence[NoteInput]] | None = None,
    *,
    no_change_limit: int = DEFAULT_NO_CHANGE_LIMIT,
) -> list[Flag]:
    """Every flag of one meeting. ``previous``: member id -> their earlier notes, most recent first."""
    previous = previous or {}
    shared = group_sentences(meeting.narrative, meeting.homework)
    # The group's method, where a legacy note repeats it in every member's intervention: shared.
    interventions: dict[str, int] = {}
    for note in meeting.notes:
        for s in {normalise(x) for x in split_sentences(note.sections.get("intervention", ""))}:
            interventions[s] = interventions.get(s, 0) + 1
    shared |= {s for s, n in interventions.items() if n > 1}
    flags: list[Flag] = []
    parts = {n.member_id: leader_parts(n, shared) for n in meeting.notes}
    mid = meeting.meeting_id
    for note in meeting.notes:
        who = clean(note.display_name).strip() or "a member"
        mine = parts[note.member_id]
        if not mine:
            flags.append(Flag("no_observation", note.member_id, who, "observation",
                              f"{who}: no observation of your own; every sentence is the app's draft.", mid))
        if note.safety_flagged and not note.risk_screen:
            flags.append(Flag("risk_unscreened", note.member_id, who, "risk_screen",
                              f"{who}: a safety concern was raised, but the risk screen is not recorded.", mid))
        before = list(previous.get(note.member_id, ()))
        last = before[0] if before else None
        worse = [g for g, p in note.goal_progress if p == "worse"]
        if last is not None and (note.substance_use == "used" or worse) and note.plan.strip() \
                and normalise(note.plan) == normalise(last.plan):
            why = "reported use" if note.substance_use == "used" else "progress got worse"
            flags.append(Flag("plan_unchanged", note.member_id, who, "plan",
                              f"{who}: the plan is the same as last time although the member {why}.", mid,
                              other_meeting_id=last.meeting_id))
        for goal, progress in note.goal_progress:
            if progress != "no_change":
                continue
            streak = [p for p in (dict(b.goal_progress).get(goal) for b in before) if p is not None]
            if len(streak) >= no_change_limit - 1 and all(p == "no_change" for p in streak[: no_change_limit - 1]):
                label = note.goal_labels.get(goal, "a goal")
                flags.append(Flag("stuck_goal", note.member_id, who, "goals",
                                  f"{who}: {label} rated \"no change\" {no_change_limit} notes in a row; "
                                  "revise the approach or the goal.", mid))
        if last is not None:
            theirs = leader_parts(last, shared)
            for key, sentences in mine.items():
                if key not in theirs or key == "plan":  # an unchanged plan matters only with use or worse progress
                    continue
                repeated, ratio, flagged = compare(sentences, theirs[key])
                if flagged:
                    flags.append(Flag("repeat", note.member_id, who, key,
                                      f"{who}: the {_label(key)} repeats their previous note ({_what(repeated, ratio)}); "
                                      "describe today.", mid, other_meeting_id=last.meeting_id,
                                      sentences=repeated, ratio=round(ratio, 2)))
                    break
    notes = list(meeting.notes)
    for i, a in enumerate(notes):
        for b in notes[i + 1:]:
            pa, pb = parts[a.member_id], parts[b.member_id]
            for key in pa:
                if key not in pb:
                    continue
                repeated, ratio, flagged = compare(pa[key], pb[key])
                if flagged:
                    wa, wb = clean(a.display_name).strip(), clean(b.display_name).strip()
                    flags.append(Flag("similar", a.member_id, wa, key,
                                      f"{wa} and {wb}: the {_label(key)} is near-identical ({_what(repeated, ratio)}); "
                                      "individualize it.", mid, other_member_id=b.member_id,
                                      sentences=repeated, ratio=round(ratio, 2)))
                    break
    flags += _name_flags(meeting)
    return flags


def _name_flags(meeting: MeetingNotes) -> list[Flag]:
    people = meeting.people or tuple((n.member_id, n.display_name) for n in meeting.notes)
    out = []
    for note in meeting.notes:
        who = clean(note.display_name).strip() or "a member"
        # Another member with the very same display name cannot be told apart from this one.
        same = note.display_name.strip().casefold()
        patterns = name_patterns(p for p in people if p[0] == note.member_id or p[1].strip().casefold() != same)
        places = [("observation", note.observation), *note.sections.items(), ("story", "\n".join(note.stories))]
        for key, text in places:
            hits = find_names(text, patterns, own=note.member_id)
            if not hits:
                continue
            written = tuple(dict.fromkeys(h[1] for h in hits))
            where = "story notes" if key == "story" else _label(key)
            out.append(Flag("name", note.member_id, who, key,
                            f"{who}: the {where} name(s) another member ({', '.join(written)}); use initials or "
                            "\"a peer\".", meeting.meeting_id, other_member_id=hits[0][0].member_id, names=written))
    return out


# --------------------------------------------------------------------------- reading the database


BATCH = 200  # meetings read together


def notes_of_meetings(session: Session, meeting_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MeetingNotes]:
    """The lens's view of many meetings, a fixed handful of queries per :data:`BATCH` meetings.

    A signed meeting is read as it was signed (names and goal positions from its signed
    snapshot); its own rows are locked, so they are what was signed.
    """
    out: dict[uuid.UUID, MeetingNotes] = {}
    ids = list(dict.fromkeys(meeting_ids))
    for start in range(0, len(ids), BATCH):
        out.update(_load_batch(session, ids[start:start + BATCH]))
    return out


def _load_batch(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, MeetingNotes]:
    from sqlmodel import col, select

    from iop_facilitator.enums import ATTENDED
    from iop_facilitator.models import (
        Attendance,
        Goal,
        Group,
        GroupMeeting,
        Member,
        NoteFacts,
        ProgressNote,
        SafetyEvent,
        SignedMember,
        SignedSnapshot,
        StoryNote,
    )
    from iop_facilitator.services import formats, note_facts

    meetings = {m.id: m for m in session.exec(select(GroupMeeting).where(col(GroupMeeting.id).in_(ids)))}
    groups = {g.id: g.name for g in session.exec(
        select(Group).where(col(Group.id).in_({m.group_id for m in meetings.values()})))}
    frozen = {s.meeting_id: s.group_name for s in session.exec(
        select(SignedSnapshot).where(col(SignedSnapshot.meeting_id).in_(ids)))}
    signed_people = {(m.meeting_id, m.member_id): m for m in session.exec(
        select(SignedMember).where(col(SignedMember.meeting_id).in_(ids)))}
    rows: dict[uuid.UUID, list[Attendance]] = {i: [] for i in ids}
    for a in session.exec(select(Attendance).where(col(Attendance.meeting_id).in_(ids))):
        rows[a.meeting_id].append(a)
    people = {m.id: m.display_name for m in session.exec(
        select(Member).where(col(Member.id).in_({a.member_id for r in rows.values() for a in r})))}
    notes = {(n.meeting_id, n.member_id): n for n in session.exec(
        select(ProgressNote).where(col(ProgressNote.meeting_id).in_(ids)))}
    facts = {(f.meeting_id, f.member_id): f for f in session.exec(
        select(NoteFacts).where(col(NoteFacts.meeting_id).in_(ids)))}
    stories: dict[tuple[uuid.UUID, uuid.UUID], list[str]] = {}
    for st in session.exec(select(StoryNote).where(col(StoryNote.meeting_id).in_(ids))
                           .order_by(col(StoryNote.recorded_at))):
        stories.setdefault((st.meeting_id, st.member_id), []).append(st.text)
    events = {(e.meeting_id, e.member_id) for e in session.exec(
        select(SafetyEvent).where(col(SafetyEvent.meeting_id).in_(ids)))}
    wanted = set()
    for n in notes.values():
        for g in n.goal_ids or ():
            try:
                wanted.add(uuid.UUID(str(g)))
            except ValueError:
                continue
    positions = {str(g.id): g.position for g in session.exec(select(Goal).where(col(Goal.id).in_(wanted)))} \
        if wanted else {}
    out = {}
    for mid in ids:
        meeting = meetings.get(mid)
        if meeting is None:
            continue
        signed = mid in frozen
        names: list[tuple[uuid.UUID, str]] = []
        inputs = []
        for a in sorted(rows[mid], key=lambda r: people.get(r.member_id, "").lower()):
            as_signed = signed_people.get((mid, a.member_id))
            name = as_signed.display_name if signed and as_signed is not None else people.get(a.member_id, "")
            names.append((a.member_id, name))
            note = notes.get((mid, a.member_id))
            if a.status not in ATTENDED or note is None:
                continue
            addressed = [str(g) for g in note.goal_ids or ()]
            fact = note_facts.view(facts.get((mid, a.member_id)), addressed)
            where = {str(g[0]): int(g[1]) for g in (as_signed.goals if signed and as_signed else ())} or positions
            inputs.append(NoteInput(
                member_id=a.member_id,
                display_name=name,
                sections={x.section.key: x.text for x in formats.sections(meeting.note_format.value, note, fact)},
                observation=fact.observation,
                goal_progress=tuple((g, (p.progress if (p := fact.progress_of(g)) else None)) for g in addressed),
                goal_labels={g: f"goal {where[g]}" for g in addressed if g in where},
                substance_use=fact.substance_use,
                risk_screen=fact.risk_screen,
                safety_flagged=bool(a.safety_concern or (mid, a.member_id) in events),
                stories=tuple(stories.get((mid, a.member_id), ())),
                meeting_id=mid,
                local_date=meeting.local_date,
            ))
        out[mid] = MeetingNotes(mid, meeting.local_date, frozen.get(mid) or groups.get(meeting.group_id, ""),
                                meeting.group_narrative, meeting.homework, tuple(inputs), tuple(names))
    return out


def _earlier(
    session: Session, member_ids: Iterable[uuid.UUID], before: dt.datetime,
) -> dict[uuid.UUID, list[tuple[dt.datetime, uuid.UUID]]]:
    """member id -> [(scheduled start, meeting id)] of their notes before ``before``, most recent first."""
    from sqlmodel import col, select

    from iop_facilitator.models import GroupMeeting, ProgressNote

    out: dict[uuid.UUID, list[tuple[dt.datetime, uuid.UUID]]] = {}
    ids = list(member_ids)
    if not ids:
        return out
    for member_id, meeting_id, start in session.exec(
        select(ProgressNote.member_id, GroupMeeting.id, GroupMeeting.scheduled_start)
        .join(GroupMeeting, col(GroupMeeting.id) == col(ProgressNote.meeting_id))
        .where(col(ProgressNote.member_id).in_(ids), col(GroupMeeting.scheduled_start) < before)
    ):
        out.setdefault(member_id, []).append((start, meeting_id))
    for found in out.values():
        found.sort(reverse=True)
    return out


def _review_all(
    session: Session, ids: list[uuid.UUID], limit: int,
) -> list[Review]:
    """Reviews of ``ids`` (in order), each member's earlier notes read together per batch."""
    from sqlmodel import col, select

    from iop_facilitator.models import GroupMeeting

    depth = max(limit - 1, 1)
    cache: dict[uuid.UUID, MeetingNotes] = {}
    out = []
    for first in range(0, len(ids), BATCH):
        chunk = ids[first:first + BATCH]
        current = notes_of_meetings(session, [i for i in chunk if i not in cache])
        cache.update(current)
        starts = dict(session.exec(select(GroupMeeting.id, GroupMeeting.scheduled_start)
                                   .where(col(GroupMeeting.id).in_(chunk))).all())
        members = {n.member_id for i in chunk if i in cache for n in cache[i].notes}
        history = _earlier(session, members, max(starts.values())) if starts else {}
        wanted: dict[tuple[uuid.UUID, uuid.UUID], list[uuid.UUID]] = {}
        for mid in chunk:
            if mid not in cache:
                continue
            for note in cache[mid].notes:
                earlier = [m for s, m in history.get(note.member_id, ()) if s < starts[mid] and m != mid]
                wanted[(mid, note.member_id)] = earlier[:depth]
        cache.update(notes_of_meetings(session, [m for ms in wanted.values() for m in ms if m not in cache]))
        for mid in chunk:
            if mid not in cache:
                continue
            meeting = cache[mid]
            previous = {
                n.member_id: [p for m in wanted[(mid, n.member_id)]
                              if (p := next((x for x in cache[m].notes if x.member_id == n.member_id), None))]
                for n in meeting.notes
            }
            out.append(Review(meeting.meeting_id, meeting.local_date, meeting.group_name,
                              tuple(review(meeting, previous, no_change_limit=limit))))
        if len(cache) > 4 * BATCH:  # keep memory bounded on long ranges: the next chunk rereads what it needs
            cache = {k: cache[k] for k in chunk if k in cache}
    return out


@dataclass(frozen=True)
class Review:
    meeting_id: uuid.UUID
    local_date: dt.date
    group_name: str
    flags: tuple[Flag, ...]


def no_change_limit(session: Session) -> int:
    from iop_facilitator.services.settings import get_settings

    return get_settings(session).no_change_limit or DEFAULT_NO_CHANGE_LIMIT


def review_meeting(session: Session, meeting_id: uuid.UUID, *, limit: int | None = None) -> Review:
    """The payer lens over one meeting, with each member's earlier notes (reads only)."""
    from iop_facilitator.models import GroupMeeting

    if session.get(GroupMeeting, meeting_id) is None:
        from iop_facilitator.errors import NotFound

        raise NotFound("that meeting does not exist")
    return _review_all(session, [meeting_id], limit or no_change_limit(session))[0]


def review_range(
    session: Session, *, since: dt.date | None = None, until: dt.date | None = None, group_id: uuid.UUID | None = None,
) -> list[Review]:
    """The payer lens over every finished meeting in a date range (oldest first), e.g. before claims go out."""
    from sqlmodel import col, select

    from iop_facilitator.models import GroupMeeting

    query = select(GroupMeeting.id).where(col(GroupMeeting.actual_end).is_not(None))
    if since is not None:
        query = query.where(col(GroupMeeting.local_date) >= since)
    if until is not None:
        query = query.where(col(GroupMeeting.local_date) <= until)
    if group_id is not None:
        query = query.where(GroupMeeting.group_id == group_id)
    ids = list(session.exec(query.order_by(col(GroupMeeting.local_date), col(GroupMeeting.scheduled_start))).all())
    return _review_all(session, ids, no_change_limit(session))


def reviews(
    session: Session,
    *,
    meeting: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    group: str | None = None,
) -> list[Review]:
    """What ``iop meeting review`` shows: one meeting (id or id prefix), or every finished meeting
    in a date range (optionally one group's, by name or id)."""
    from iop_facilitator.errors import InvalidInput

    if meeting is not None:
        if since or until or group:
            raise InvalidInput("give a meeting, or a date range (--since/--until, --group), not both")
        from iop_facilitator.services.meetings import resolve_meeting

        return [review_meeting(session, resolve_meeting(session, meeting).id)]
    if since is None and until is None:
        raise InvalidInput("give a meeting id, or a date range with --since and/or --until")
    group_id = None
    if group is not None:
        from iop_facilitator.services.groups import resolve_group

        group_id = resolve_group(session, group).id
    return review_range(session, since=since, until=until, group_id=group_id)


def as_dict(item: Review) -> dict[str, Any]:
    """A review as JSON-ready values (ids as strings)."""
    return {
        "meeting_id": str(item.meeting_id),
        "date": item.local_date.isoformat(),
        "group": item.group_name,
        "flags": [
            {
                "kind": f.kind, "member_id": str(f.member_id), "member": f.member, "field": f.field,
                "message": f.message,
                "other_member_id": str(f.other_member_id) if f.other_member_id else None,
                "other_meeting_id": str(f.other_meeting_id) if f.other_meeting_id else None,
                "sentences": list(f.sentences), "names": list(f.names), "ratio": f.ratio,
            }
            for f in item.flags
        ],
    }
