"""How a note says what a member reported, and every sentence a drafted note can hold (pure).

The drafted note (``services.notes.draft_response``) and every notes export
(``exports.notes_md``, ``exports.notes_pdf``) word a member's ratings the same way;
each passes its own ``quote`` (straight quotes in a draft, typographic ones in a
document, Markdown-escaped in Markdown).

:data:`TEMPLATES` are the sentences of the drafts (``services.formats.compose``), with
slots for the member's own values; :func:`is_app_sentence` recognises any of them filled
in, so the sign-time checks (``services.signcheck``) never count the app's own sentences
as cloned text, and can tell what the leader wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def straight(text: str) -> str:
    return f'"{text}"'


def curly(text: str) -> str:
    return f"\u201c{text}\u201d"


def checkin_phrase(mood: int | None, urge: int | None, feeling: str, *, quote: Callable[[str], str] = straight) -> str:
    """``mood 6/10, urge 2/10, feeling "calm"``: the parts recorded, "" when none was."""
    parts = []
    if mood is not None:
        parts.append(f"mood {mood}/10")
    if urge is not None:
        parts.append(f"urge {urge}/10")
    if feeling:
        parts.append(f"feeling {quote(feeling)}")
    return ", ".join(parts)


def checkout_phrase(
    rating: int | None, takeaway: str, *, label: str = "rating", quote: Callable[[str], str] = straight
) -> str:
    """``rating 8/10, takeaway "call my sponsor"`` (``label`` names the rating), "" when nothing was recorded."""
    parts = []
    if rating is not None:
        parts.append(f"{label} {rating}/10")
    if takeaway:
        parts.append(f"takeaway {quote(takeaway)}")
    return ", ".join(parts)


# Every sentence a draft can hold: (name, format string). The slots ({...}) hold the member's
# own values; is_app_sentence() recognises any filled-in template.
TEMPLATES: dict[str, str] = {
    "late": "Arrived late ({time}).",
    "left": "Left early at {time}.",
    "checkin": "At check-in reported {checkin}.",
    "checkin_concern": "Raised a safety concern at check-in.",
    "shared": "Shared a personal account with the group (in-session note at {times}).",
    "shared_many": "Shared {count} times with the group (in-session notes at {times}).",
    "quiet": "Did not share a personal account this session.",
    "checkout": "At check-out: {checkout}.",
    "part_active": "Participated actively, volunteering and responding to peers.",
    "part_engaged_when_prompted": "Participated when prompted by the facilitator.",
    "part_minimal": "Participated minimally, with brief answers.",
    "part_listened": "Listened attentively and did not share.",
    "part_disruptive": "Was disruptive at times and needed redirection.",
    "affect": "Affect {affect}.",
    "affect_presentation": "Affect {affect}; {presentation}.",
    "presentation": "Presentation: {presentation}.",
    "risk_denied": "Denied suicidal and homicidal thoughts this session.",
    "risk_endorsed": "Endorsed thoughts of harm this session; risk was screened privately (risk level {level}) "
                     "and the disposition is in the safety event record.",
    "use_none": "Reported no substance use since the last session.",
    "use_used": "Reported substance use since the last session.",
    "use_used_detail": "Reported substance use since the last session: {detail}.",
    "use_declined": "Declined to say whether they used substances since the last session.",
    "progress": "Goal {position} ({goal}): {progress}.",
    "progress_measure": "Goal {position} ({goal}): {progress}; {measure}.",
    "addressed": "Goal {position} ({goal}) addressed; progress not rated.",
    "measures": "Measures: {measures}.",
    "attended_minutes": "Attended {minutes} minutes of the group.",
    # interventions for this member
    "i_goal": "Linked the day's group work to goal {position} ({goal}).",
    "i_feedback": "Facilitated peer feedback on the member's share.",
    "i_invite": "Invited participation with direct, low-pressure prompts.",
    "i_redirect": "Redirected disruptive behavior and restated group norms.",
    "i_risk": "Completed a private risk screen and safety planning per program crisis steps.",
    "i_use": "Explored the reported use without judgment and reviewed relapse-prevention steps.",
    "i_worse": "Problem-solved barriers to goal {position} with the member.",
    "i_group": "Took part in the group intervention described in the group narrative.",
    # plan
    "p_use": "Address the reported use: review triggers and the relapse-prevention plan with the primary "
             "counselor before the next group.",
    "p_declined": "Revisit substance use with the member individually.",
    "p_risk": "Follow up on today's safety concern with the primary clinician.",
    "p_worse": "Revise the approach to goal {position} with the member; progress was worse this session.",
    "p_same": "Continue work on goal {position}; try a new strategy, as progress has not changed.",
    "p_better": "Build on the progress toward goal {position} at the next group.",
    "p_goal": "Continue work on goal {position} at the next group.",
    "p_no_goal": "Review the treatment-plan goals with the primary counselor; no goal was addressed today.",
    "p_homework": "Practice the group's assignment (see the group narrative) and report back at the next group.",
    "p_attendance": "Review attendance with the member (near the program's absence limit).",
}


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("^" + ".+?".join(re.escape(p) for p in parts) + "$", re.DOTALL)


_TEMPLATE_PATTERNS = tuple(_template_pattern(t) for t in TEMPLATES.values())


def is_app_sentence(sentence: str) -> bool:
    """Whether ``sentence`` is one of the app's draft sentences (any :data:`TEMPLATES` entry, filled in)."""
    text = " ".join(sentence.split())
    return any(p.match(text) for p in _TEMPLATE_PATTERNS)


def say(name: str, **values: Any) -> str:
    """Template ``name`` filled in (a slot ending in initials, "B.S.", does not double the full stop)."""
    text = TEMPLATES[name].format(**values)
    return text[:-1] if text.endswith("..") else text
