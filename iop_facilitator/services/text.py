"""Cleaning user text: it is data, never markup or terminal control."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls; ANSI/VT escape sequences first.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL/ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC ... ST
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Whatever clean() changes holds one of these (escape sequences start with one): a cheap test.
needs_cleaning = _CONTROLS.search


def clean(text: str | None, *, single_line: bool = False) -> str:
    """Strip escape sequences, control characters and NUL; normalise newlines."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub("", text)
    if single_line:
        text = " ".join(text.split())
    return text.strip() if single_line else text


def clean_line(text: str | None) -> str:
    return clean(text, single_line=True)


def clean_stored(text: str | None, *, single_line: bool = False) -> str:
    """Stored text on its way out (exports), cleaned again only when :data:`needs_cleaning` says so.

    Input is cleaned when stored, but text can bypass that (raw SQL, a PostgreSQL client,
    a restored backup), so every export cleans again; one regex search spares the
    common case. ``single_line`` always folds white space.
    """
    if not text:
        return ""
    if single_line or needs_cleaning(text):
        return clean(text, single_line=single_line)
    return text
