"""Members' names in note text: finding them and replacing them with initials (pure).

In one member's note other members appear only as initials or "a peer" (a chart must never
name another person). :func:`name_patterns` builds one word-bounded pattern per member (the
display name, and the first name when no one else in the meeting shares it; a first name
that is also a common word, such as "Will" or "Hope", only when capitalised or in capitals);
:func:`find_names` and :func:`replace_names` use them. The drafts
(``services.formats``) pass every typed word through them, the sign-time checks
(``services.signcheck``) report names left in a note.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from iop_facilitator.services.text import clean

# First names that are also ordinary words: matched only when written with a capital letter.
COMMON_WORDS = frozenset(
    ["al", "an", "april", "art", "ash", "autumn", "bill", "bob", "brook", "butch", "chance", "charity", "dawn", "dean", "destiny", "drew", "faith", "frank", "gene", "grace", "guy", "harmony", "hope", "iris", "ivy", "jack", "jade", "jay", "joy", "june", "justice", "king", "lane", "mark", "matt", "max", "may", "melody", "miles", "misty", "neil", "opal", "page", "pat", "patience", "penny", "rich", "river", "robin", "rose", "ruby", "rusty", "sage", "sky", "skye", "sol", "star", "stone", "storm", "summer", "sunny", "trinity", "wade", "will", "willow", "win", "winter", "works"]
)



def initials(display_name: str) -> str:
    """"Avery T." -> "A.T."; "Mary Ann" -> "M.A."."""
    letters = [w[0].upper() for w in re.findall(r"[^\W\d_][\w'’-]*", display_name)]
    return "".join(f"{c}." for c in letters) or "a peer"


def first_name(display_name: str) -> str:
    found = re.findall(r"[^\W\d_][\w'’-]*", display_name)
    return found[0] if found else ""


@dataclass(frozen=True)
class NamePattern:
    member_id: uuid.UUID
    display_name: str
    pattern: re.Pattern[str] = field(compare=False)
    replacement: str = ""  # the member's initials, for the display name and the first name alike


def _word_bounded(text: str) -> str:
    return rf"(?<![\w]){re.escape(text)}(?![\w])"


def name_patterns(people: Iterable[tuple[uuid.UUID, str]]) -> list[NamePattern]:
    """One regex per member: the display name, and the first name when no one else shares it.

    Case-insensitive and word-bounded; a first name that is also a common word
    ("Will", "Hope") is matched only when capitalised.
    """
    people = [(pid, clean(name).strip()) for pid, name in people if clean(name).strip()]
    firsts: dict[str, int] = {}
    for _pid, name in people:
        key = first_name(name).lower()
        firsts[key] = firsts.get(key, 0) + 1
    out = []
    for pid, name in people:
        parts = [f"(?i:{_word_bounded(name)})"]
        first = first_name(name)
        if len(first) >= 2 and firsts.get(first.lower()) == 1 and first.lower() != name.lower():
            if first.lower() in COMMON_WORDS:  # "Will" and "WILL" are the name, "will" the word
                parts.append(_word_bounded(first[0].upper() + first[1:].lower()))
                parts.append(_word_bounded(first.upper()))
            else:
                parts.append(f"(?i:{_word_bounded(first)})")
        out.append(NamePattern(pid, name, re.compile("|".join(parts)), initials(name)))
    return out


def find_names(text: str, patterns: list[NamePattern], *, own: uuid.UUID) -> list[tuple[NamePattern, str]]:
    """(whose name, as written) for every other member's name in ``text``."""
    found = []
    for pattern in patterns:
        if pattern.member_id == own:
            continue
        for match in pattern.pattern.finditer(text or ""):
            found.append((pattern, match.group(0)))
    return found


def replace_names(text: str, patterns: list[NamePattern], *, own: uuid.UUID) -> str:
    """``text`` with every other member's name replaced by their initials ("Avery T." and "Avery" -> "A.T.")."""
    for pattern in patterns:
        if pattern.member_id == own:
            continue

        text = pattern.pattern.sub(lambda _m, p=pattern: p.replacement, text)
    return text
