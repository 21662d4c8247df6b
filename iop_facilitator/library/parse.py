"""Reading one topic file: bytes in, a validated topic or a list of problems out.

A topic file is a Markdown facilitator guide with a TOML header between
``+++`` lines (see ``topics/README.md``). The header holds the metadata
(id, title, version, category, audience, duration, authorship, references);
the body's ``##`` sections hold the guide itself and are read back into the
same fields. :func:`parse_topic` never raises for bad input: every problem is
returned as a :class:`Problem` naming the file, the field and what is wrong.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from iop_facilitator.library.model import LoadedTopic, Topic

MAX_BYTES = 256 * 1024
HEADER_FENCE = "+++"
HEADER_KEYS = {
    "id", "title", "summary", "version", "category", "audience", "duration_minutes", "authorship", "references",
}

_SEGMENT_HEADING = re.compile(
    r"^(?P<kind>opening|didactic|discussion|activity|practice|wrap-up|wrap up)\s*[:\u2014\u2013-]\s*"
    r"(?P<title>.+?)\s*\((?P<minutes>\d{1,3})\s*(?:min|mins|minutes)\)$",
    re.IGNORECASE,
)
_ACTIVITY_HEADING = re.compile(r"^activity\s*[:\u2014\u2013-]\s*(?P<name>.+?)\s*\((?P<minutes>\d{1,3})\s*(?:min|mins|minutes)\)$", re.I)
_HOMEWORK_HEADING = re.compile(r"^homework\s*[:\u2014\u2013-]\s*(?P<title>.+)$", re.IGNORECASE)
_BULLET = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+")

LIST_SECTIONS = {
    "objectives": "objectives",
    "materials": "materials",
    "facilitator preparation": "facilitator_prep",
    "safety notes": "safety_notes",
    "key points": "key_points",
    "discussion prompts": "discussion_prompts",
}
TEXT_SECTIONS = {"check-in hook": "check_in_hook", "check-out": "check_out_prompt"}
SECTION_OF = {
    **{field: name.capitalize() for name, field in LIST_SECTIONS.items()},
    "check_in_hook": "Check-in hook",
    "check_out_prompt": "Check-out",
    "segments": "Session plan",
    "activity": "Activity: Name (N min)",
    "homework": "Homework: Title",
    "difficult_moments": "Difficult moments",
}
OUTLINE = (
    "Objectives, Materials, Facilitator preparation, Safety notes, Check-in hook, Session plan, Key points, "
    "Discussion prompts, Activity: NAME (N min), Homework: TITLE, Check-out, Difficult moments"
)


@dataclass(frozen=True)
class Problem:
    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


class _Collector:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(Problem(self.path, field, message))


def normalise_text(raw: bytes, problems: _Collector) -> str | None:
    """UTF-8 text with LF line ends and no byte-order mark, or None (with a problem noted)."""
    if not raw.strip():
        problems.add("file", "the file is empty")
        return None
    if len(raw) > MAX_BYTES:
        problems.add("file", f"the file is too large ({len(raw) // 1024} KiB; a guide is at most {MAX_BYTES // 1024} KiB)")
        return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.add("file", "the file is UTF-16 text; save it as UTF-8")
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        problems.add("file", "the file holds NUL bytes; it is not a text file")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.add("file", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save the file as UTF-8")
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    control = _CONTROL.search(text)
    if control is not None:
        # A guide is reviewed text with a recorded hash: refuse it rather than silently change it.
        line = text[: control.start()].count("\n") + 1
        problems.add("file", f"control character U+{ord(control.group()):04X} (terminal escape or similar) on "
                             f"line {line}; remove it")
        return None
    return text


# C0 controls except tab and newline, DEL and C1 controls (ESC starts terminal escape sequences).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_header(text: str, problems: _Collector) -> tuple[dict[str, Any], str] | None:
    lines = text.split("\n")
    if not lines or lines[0].strip() != HEADER_FENCE:
        problems.add("header", "the file must start with a '+++' line opening the TOML header")
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == HEADER_FENCE)
    except StopIteration:
        problems.add("header", "the TOML header is not closed by a second '+++' line")
        return None
    try:
        header = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        problems.add("header", f"TOML syntax error: {exc} (counting from the line after the first '+++')")
        return None
    return header, "\n".join(lines[end + 1 :])


@dataclass
class _Heading:
    level: int
    text: str
    line: int  # first line of the heading
    body_start: int  # first line after it


def _headings(body: str) -> list[_Heading]:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(body)
    found: list[_Heading] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map and token.tag in ("h1", "h2", "h3"):
            inline = tokens[index + 1]
            found.append(_Heading(int(token.tag[1]), inline.content.strip(), token.map[0], token.map[1]))
    return found


def _list_items(chunk: str) -> list[str]:
    """The items of the bullet or numbered lists in ``chunk`` (continuation lines joined)."""
    items: list[str] = []
    current: list[str] | None = None
    for line in chunk.split("\n"):
        if _BULLET.match(line):
            if current is not None:
                items.append(" ".join(current).strip())
            current = [_BULLET.sub("", line, count=1).strip()]
        elif current is not None and line.strip() and line.startswith((" ", "\t")):
            current.append(line.strip())
        elif current is not None and not line.strip():
            continue
        elif current is not None:
            items.append(" ".join(current).strip())
            current = None
    if current is not None:
        items.append(" ".join(current).strip())
    return [i for i in items if i]


def _subsections(lines: list[str], heads: list[_Heading], start: int, end: int) -> tuple[str, list[tuple[str, str]]]:
    """Intro text and (heading, text) pairs of the ``###`` subsections between lines start and end."""
    subs = [h for h in heads if h.level == 3 and start <= h.line < end]
    intro_end = subs[0].line if subs else end
    intro = "\n".join(lines[start:intro_end]).strip()
    pairs = []
    for i, sub in enumerate(subs):
        stop = subs[i + 1].line if i + 1 < len(subs) else end
        pairs.append((sub.text, "\n".join(lines[sub.body_start : stop]).strip()))
    return intro, pairs


def parse_body(body: str, problems: _Collector) -> dict[str, Any]:
    """The guide's fields, read from its ``##`` sections."""
    lines = body.split("\n")
    heads = _headings(body)
    h2 = [h for h in heads if h.level <= 2]
    fields: dict[str, Any] = {}
    seen: set[str] = set()
    for i, head in enumerate(h2):
        if head.level == 1:
            continue
        stop = next((h.line for h in h2[i + 1 :]), len(lines))
        name = " ".join(head.text.lower().split())
        key = name
        intro, subs = _subsections(lines, heads, head.body_start, stop)
        if name in LIST_SECTIONS:
            items = _list_items(intro)
            fields[LIST_SECTIONS[name]] = items
            if not items and name != "materials":
                problems.add(LIST_SECTIONS[name], f"the '{head.text}' section has no list items ('- ...')")
        elif name in TEXT_SECTIONS:
            fields[TEXT_SECTIONS[name]] = intro
        elif name == "session plan":
            segments = []
            for title, text in subs:
                match = _SEGMENT_HEADING.match(title)
                if not match:
                    problems.add(
                        "segments",
                        f"segment heading '### {title}' must read 'Kind: Title (N min)' with kind one of "
                        "Opening, Didactic, Discussion, Activity, Practice, Wrap-up",
                    )
                    continue
                kind = match["kind"].lower().replace(" ", "-")
                segments.append({"kind": kind, "title": match["title"], "minutes": int(match["minutes"]), "script": text})
            fields["segments"] = segments
        elif name.startswith("activity"):
            key = "activity"
            match = _ACTIVITY_HEADING.match(head.text)
            if not match:
                problems.add("activity", f"the heading '## {head.text}' must read 'Activity: Name (N min)'")
                continue
            parts = {" ".join(t.lower().split()): text for t, text in subs}
            fields["activity"] = {
                "name": match["name"],
                "minutes": int(match["minutes"]),
                "instructions": parts.get("instructions", intro),
                "debrief": parts.get("debrief", ""),
            }
        elif name.startswith("homework"):
            key = "homework"
            match = _HOMEWORK_HEADING.match(head.text)
            if not match:
                problems.add("homework", f"the heading '## {head.text}' must read 'Homework: Title'")
                continue
            parts = {" ".join(t.lower().split()): text for t, text in subs}
            fields["homework"] = {
                "title": match["title"].strip(),
                "instructions": parts.get("instructions", intro),
                "review_prompt": parts.get("review next time", ""),
            }
        elif name == "difficult moments":
            fields["difficult_moments"] = [{"situation": t, "response": text} for t, text in subs]
        else:
            problems.add("body", f"unknown section '## {head.text}'; the sections are: {OUTLINE}")
            continue
        if key in seen:
            problems.add("body", f"the section '## {head.text}' appears twice")
        seen.add(key)
    return fields


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "topic"


def _minutes_mismatch(data: dict[str, Any]) -> str | None:
    duration, segments = data.get("duration_minutes"), data.get("segments")
    if not isinstance(duration, int) or not isinstance(segments, list):
        return None
    parts = [s.get("minutes") for s in segments if isinstance(s, dict)]
    if not parts or not all(isinstance(m, int) for m in parts) or sum(parts) == duration:
        return None
    return f"segments add up to {sum(parts)} minutes, but duration_minutes is {duration}"


def parse_topic(raw: bytes, path: str | Path, *, source: str = "bundled") -> LoadedTopic | list[Problem]:
    """A validated topic, or every problem found in the file (never an exception for bad input)."""
    problems = _Collector(str(path))
    text = normalise_text(raw, problems)
    if text is None:
        return problems.problems
    split = split_header(text, problems)
    if split is None:
        return problems.problems
    header, body = split
    for key in sorted(set(header) - HEADER_KEYS):
        problems.add(key, f"unknown header key {key!r}; the header holds: {', '.join(sorted(HEADER_KEYS))}")
    data = {k: v for k, v in header.items() if k in HEADER_KEYS}
    data.update(parse_body(body, problems))
    try:
        topic = Topic.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            loc = error["loc"]
            if error["type"] == "missing" and len(loc) == 1:
                where = SECTION_OF.get(str(loc[0]))
                message = f"missing: add a '## {where}' section" if where else "missing from the TOML header"
            problems.add(_field_name(loc), message)
        # Field errors stop pydantic before the whole-topic checks: still report the minutes.
        if not any(p.field == "topic" for p in problems.problems):
            minutes = _minutes_mismatch(data)
            if minutes:
                problems.add("topic", minutes)
        return problems.problems
    if problems.problems:
        return problems.problems
    return LoadedTopic(topic=topic, path=str(path), source=source, content_hash=content_hash(text), body=body.strip())
