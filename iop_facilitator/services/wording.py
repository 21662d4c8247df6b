"""How a note says what a member reported: the check-in and check-out phrases (pure).

The drafted note (``services.notes.draft_response``) and every notes export
(``exports.notes_md``, ``exports.notes_pdf``) word a member's ratings the same way;
each passes its own ``quote`` (straight quotes in a draft, typographic ones in a
document, Markdown-escaped in Markdown).
"""

from __future__ import annotations

from collections.abc import Callable


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
