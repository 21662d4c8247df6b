"""Checks run before a meeting is signed: the payer lens's flags, and open safety events.

An open safety event (no disposition) blocks signing. Everything else is a warning
from the payer lens (``services.payer_lens``): a note without the leader's own words,
leader-written parts near-identical across members or with the member's previous note, a
plan unchanged while use or worse progress was reported, a goal stuck at "no change",
another member's name, a safety concern without a risk screen. The app's own sentences
and group-wide text are never counted as cloning. The signer fixes them or knowingly signs
anyway (audited). Findings carry member ids and the field to go to; they hold display
names for the screen and are never logged or put in error messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iop_facilitator.services.names import name_patterns, replace_names
from iop_facilitator.services.text import clean

if TYPE_CHECKING:
    from sqlmodel import Session

    from iop_facilitator.services.live_read import Snapshot
    from iop_facilitator.services.payer_lens import Flag


class Kind:
    SIMILAR = "similar"  # two members' leader-written parts near-identical
    REPEAT = "repeat"  # a member's leader-written part near-identical to their previous note's
    NAME = "name"  # another member's name in a member's note or story notes
    SAFETY = "safety"  # an open safety event without a disposition (blocks signing)
    NO_OBSERVATION = "no_observation"  # nothing in the note written by the leader
    PLAN_UNCHANGED = "plan_unchanged"  # same plan as last time while use or worse progress was reported
    STUCK_GOAL = "stuck_goal"  # a goal rated "no change" N notes in a row
    RISK_UNSCREENED = "risk_unscreened"  # a safety concern without a risk screen


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
    where: str = ""  # the field to go to: a section key, "observation", "goals", "risk_screen", "story"


def from_flag(flag: Flag) -> Finding:
    return Finding(flag.kind, flag.message, flag.member_id, flag.other_member_id, flag.sentences, flag.names,
                   flag.ratio, where=flag.field)


def safety_findings(snapshot: Snapshot) -> list[Finding]:
    out = []
    for event in snapshot.safety_events:
        if event.disposition.strip():
            continue
        who = next((clean(m.display_name).strip() for m in snapshot.members if m.member_id == event.member_id),
                   "the group") or "a member"
        out.append(Finding(
            Kind.SAFETY, f"The safety event for {who} has no disposition: signing is blocked until it has one.",
            event.member_id, blocking=True,
        ))
    return out


def sign_checks(session: Session, meeting_id: uuid.UUID) -> list[Finding]:
    """Everything to look at before signing: blocking findings first, then the payer lens's warnings."""
    from iop_facilitator.services.live_read import load_snapshot
    from iop_facilitator.services.payer_lens import review_meeting

    snapshot = load_snapshot(session, meeting_id)
    return safety_findings(snapshot) + [from_flag(f) for f in review_meeting(session, meeting_id).flags]


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
    from iop_facilitator.services.note_facts import SECTIONS, save_facts
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
        facts = {name: line.facts.section(name) for name in SECTIONS}
        facts |= {"observation": line.facts.observation, "presentation": line.facts.presentation,
                  "use_detail": line.facts.use_detail}
        renamed = {k: new for k, v in facts.items() if v and (new := replace_names(v, patterns, own=line.member_id)) != v}
        if renamed and line.attended:
            save_facts(session, meeting_id, line.member_id, **renamed)
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
