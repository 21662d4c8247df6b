"""Checks run before a meeting is signed: cloned notes, other members' names, open safety events.

Auditors deny group notes whose individualized parts are copies of each other
(or of last week's note), and a member's chart must never name another member
(peers appear as initials or "a peer"). These checks find both, so the signer
can fix them or knowingly sign anyway; an open safety event blocks signing.

What is compared
    Only the **member-specific** fields: ``response`` and ``plan``. The
    intervention is pre-filled from the day's topic and is legitimately the same
    for every member, and the goals are the member's own plan text, so neither is
    compared. Sentences that come from group-level text (the homework, the group
    narrative, the intervention) and the app's own stock planning sentences
    (:data:`STOCK_SENTENCES`) are removed before comparing.

Thresholds (kept here, in one place)
    * a **repeated sentence** is one whose normalised form (lower case, words
      only) appears in both notes and has at least :data:`MIN_SENTENCE_WORDS`
      words, so short boilerplate such as "Member attended." never counts;
    * two notes are **too similar** overall when both have at least
      :data:`MIN_COMPARE_WORDS` words and the word-level
      :class:`difflib.SequenceMatcher` ratio is at least
      :data:`SIMILARITY_THRESHOLD` (0.8: the same note with a few words changed).

Either condition flags the pair. Findings carry member ids and the repeated
sentences for the screen; they are never logged or put in error messages.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iop_facilitator.services.names import find_names, name_patterns, replace_names
from iop_facilitator.services.text import clean
from iop_facilitator.services.wording import is_app_sentence

if TYPE_CHECKING:
    from sqlmodel import Session

    from iop_facilitator.services.live_read import MemberLine, Snapshot

MIN_SENTENCE_WORDS = 8
MIN_COMPARE_WORDS = 12
SIMILARITY_THRESHOLD = 0.8

# Sentences the note drafts write for any member (see services.notes.draft_plan): standard, not cloning.
STOCK_SENTENCES = (
    re.compile(r"^continue \w+ group per treatment plan$"),
    re.compile(r"^follow up on today s safety concern with the primary clinician$"),
    re.compile(r"^review attendance with the member near the program s absence limit$"),
    re.compile(r"^reported a safety concern at check in followed up per program crisis steps$"),
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")


class Kind:
    SIMILAR = "similar"  # two members' notes too alike
    REPEAT = "repeat"  # a member's note too like their previous one
    NAME = "name"  # another member's name in a member's note or story notes
    SAFETY = "safety"  # an open safety event without a disposition


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str  # for the screen: may hold display names, never for logs
    member_id: uuid.UUID | None = None
    other_member_id: uuid.UUID | None = None
    sentences: tuple[str, ...] = ()  # the repeated sentences (as written in the member's note)
    names: tuple[str, ...] = ()  # the names found (as written)
    ratio: float | None = None
    blocking: bool = False
    where: str = ""  # where a name was found: "note" or "story"


# --------------------------------------------------------------------------- pure text helpers


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ? and at line breaks), stripped, non-empty."""
    return [s.strip() for s in _SENTENCE_END.split(clean(text)) if s and s.strip()]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'").replace("'", " "))


def normalise(sentence: str) -> str:
    """Lower case, words and digits only, single spaces: how sentences are compared."""
    return " ".join(words(sentence))


def is_stock(sentence: str) -> bool:
    """The app's own sentences: today's draft templates (``wording.TEMPLATES``) and older drafts' stock."""
    if is_app_sentence(sentence):
        return True
    norm = normalise(sentence)
    return any(p.match(norm) for p in STOCK_SENTENCES)


def specific_sentences(text: str, shared: Iterable[str] = ()) -> list[str]:
    """The sentences of ``text`` that are about this member: no stock or group-level sentences."""
    skip = set(shared)
    return [s for s in split_sentences(text) if normalise(s) not in skip and not is_stock(s)]


def group_sentences(*texts: str) -> set[str]:
    """Normalised sentences of group-level text (homework, narrative, intervention): legitimately shared."""
    out: set[str] = set()
    for text in texts:
        out.update(normalise(s) for s in split_sentences(text or ""))
    out.discard("")
    return out


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


def similarity(a: list[str], b: list[str]) -> float:
    """Word-level difflib ratio of two sentence lists (0 when either is shorter than MIN_COMPARE_WORDS)."""
    wa, wb = words(" ".join(a)), words(" ".join(b))
    if len(wa) < MIN_COMPARE_WORDS or len(wb) < MIN_COMPARE_WORDS:
        return 0.0
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def compare(a: list[str], b: list[str]) -> tuple[tuple[str, ...], float, bool]:
    """(repeated sentences, overall ratio, flagged) for two member-specific sentence lists."""
    repeated = repeated_sentences(a, b)
    ratio = similarity(a, b)
    return repeated, ratio, bool(repeated) or ratio >= SIMILARITY_THRESHOLD


def note_text(response: str, plan: str) -> str:
    parts = [p.strip() for p in (response, plan) if p and p.strip()]
    return "\n".join(parts)


# --------------------------------------------------------------------------- the checks on a snapshot


def _label(line: MemberLine) -> str:
    return clean(line.display_name).strip() or "a member"


def similar_findings(snapshot: Snapshot, previous: dict[uuid.UUID, str] | None = None) -> list[Finding]:
    """Cross-member similarity of this meeting's notes, and each note against the member's previous one."""
    lines = [m for m in snapshot.attended if m.note is not None]
    shared = group_sentences(snapshot.homework, snapshot.narrative, *(m.note.intervention for m in lines if m.note))
    texts = {m.member_id: specific_sentences(note_text(m.note.response, m.note.plan), shared) for m in lines if m.note}
    findings = []
    for i, a in enumerate(lines):
        for b in lines[i + 1:]:
            repeated, ratio, flagged = compare(texts[a.member_id], texts[b.member_id])
            if flagged:
                what = f"{len(repeated)} repeated sentence(s)" if repeated else f"{round(ratio * 100)}% alike"
                findings.append(Finding(
                    Kind.SIMILAR,
                    f"The notes of {_label(a)} and {_label(b)} are too similar ({what}); individualize them.",
                    a.member_id, b.member_id, repeated, ratio=round(ratio, 2),
                ))
    for line in lines:
        before = (previous or {}).get(line.member_id)
        if not before:
            continue
        repeated, ratio, flagged = compare(texts[line.member_id], specific_sentences(before, shared))
        if flagged:
            what = f"{len(repeated)} repeated sentence(s)" if repeated else f"{round(ratio * 100)}% alike"
            findings.append(Finding(
                Kind.REPEAT,
                f"The note of {_label(line)} repeats their previous signed note ({what}); describe today.",
                line.member_id, None, repeated, ratio=round(ratio, 2),
            ))
    return findings


def name_findings(snapshot: Snapshot) -> list[Finding]:
    """Another member's name in a member's note fields or story notes."""
    patterns = name_patterns((m.member_id, m.display_name) for m in snapshot.members)
    findings = []
    for line in snapshot.members:
        sources = []
        if line.note is not None and line.attended:
            note = line.note
            sources.append(("note", f"{note.intervention}\n{note.response}\n{note.plan}"))
        if line.stories:
            sources.append(("story", "\n".join(s.text for s in line.stories)))
        for where, text in sources:
            hits = find_names(text, patterns, own=line.member_id)
            if not hits:
                continue
            written = tuple(dict.fromkeys(h[1] for h in hits))
            place = "note" if where == "note" else "story notes"
            findings.append(Finding(
                Kind.NAME,
                f"The {place} of {_label(line)} name(s) another member ({', '.join(written)}); "
                "use initials or \"a peer\".",
                line.member_id, hits[0][0].member_id, names=written, where=where,
            ))
    return findings


def safety_findings(snapshot: Snapshot) -> list[Finding]:
    out = []
    for event in snapshot.safety_events:
        if event.disposition.strip():
            continue
        who = next((_label(m) for m in snapshot.members if m.member_id == event.member_id), "the group")
        out.append(Finding(
            Kind.SAFETY, f"The safety event for {who} has no disposition: signing is blocked until it has one.",
            event.member_id, blocking=True,
        ))
    return out


# --------------------------------------------------------------------------- with a session


def previous_notes(session: Session, snapshot: Snapshot) -> dict[uuid.UUID, str]:
    """Each attended member's note (response and plan) from their most recent earlier signed meeting."""
    from sqlmodel import col, select

    from iop_facilitator.enums import MeetingStatus
    from iop_facilitator.models import GroupMeeting, ProgressNote

    out: dict[uuid.UUID, str] = {}
    for line in snapshot.attended:
        if line.note is None:
            continue
        row = session.exec(
            select(ProgressNote.response, ProgressNote.plan)
            .join(GroupMeeting, col(GroupMeeting.id) == col(ProgressNote.meeting_id))
            .where(ProgressNote.member_id == line.member_id, GroupMeeting.status == MeetingStatus.signed)
            .where(GroupMeeting.id != snapshot.meeting_id)
            .where(col(GroupMeeting.scheduled_start) < snapshot.scheduled_start)
            .order_by(col(GroupMeeting.scheduled_start).desc())
            .limit(1)
        ).first()
        if row is not None:
            out[line.member_id] = note_text(row[0], row[1])
    return out


def sign_checks(session: Session, meeting_id: uuid.UUID) -> list[Finding]:
    """Everything to look at before signing: blocking findings first, then warnings."""
    from iop_facilitator.services.live_read import load_snapshot

    snapshot = load_snapshot(session, meeting_id)
    return check_snapshot(snapshot, previous_notes(session, snapshot))


def check_snapshot(snapshot: Snapshot, previous: dict[uuid.UUID, str] | None = None) -> list[Finding]:
    return safety_findings(snapshot) + similar_findings(snapshot, previous) + name_findings(snapshot)


def warnings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.blocking]


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]


def replace_names_with_initials(session: Session, meeting_id: uuid.UUID, member_id: uuid.UUID | None = None) -> int:
    """Replace other members' names by initials in the draft notes and story notes; returns how many texts changed.

    Only for a meeting not yet signed (a signed one is corrected by an addendum).
    ``member_id`` limits it to one member's note and stories.
    """
    from iop_facilitator.services import audit
    from iop_facilitator.services.live import editable_meeting, update_story
    from iop_facilitator.services.live_read import load_snapshot
    from iop_facilitator.services.notes import save_note

    editable_meeting(session, meeting_id)
    snapshot = load_snapshot(session, meeting_id)
    patterns = name_patterns((m.member_id, m.display_name) for m in snapshot.members)
    changed = 0
    for line in snapshot.members:
        if member_id is not None and line.member_id != member_id:
            continue
        if line.note is not None:
            fields = {}
            for name in ("intervention", "response", "plan"):
                old = getattr(line.note, name)
                new = replace_names(old, patterns, own=line.member_id)
                if new != old:
                    fields[name] = new
            if fields:
                save_note(session, meeting_id, line.member_id, **fields)
                changed += 1
        for story in line.stories:
            new = replace_names(story.text, patterns, own=line.member_id)
            if new != story.text:
                update_story(session, story.id, new)
                changed += 1
    if changed:
        session.flush()
        audit.record(session, "meeting.names_to_initials", record_type="meeting", record_id=meeting_id, texts=changed)
    return changed
