"""Notes export as Markdown: one chart-readable section per meeting, streamed.

Pure: documents in, text out. User text is plain text, not Markdown: a line that would
start a heading, quote, list or table is escaped, and ``<`` is written as ``&lt;`` so no
HTML reaches a viewer. Every meeting that is not signed says ``DRAFT / UNSIGNED`` in its
heading and in its signature block; a signed meeting still waiting for a required
supervisor co-signature says ``AWAITING CO-SIGNATURE`` in both places.

Every format tells the same record (one rule for md, json, pdf, fhir): everything the
signing hash covers is shown: attendance, check-in and check-out, each member's note,
the in-session story notes and every safety event (per member and for the group),
then addenda and signatures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from iop_facilitator.exports.notes_data import (
    AddendumDoc,
    ExportContext,
    MemberSection,
    NoteDocument,
    SafetyDoc,
    local_text,
)
from iop_facilitator.services.formats import facts_summary
from iop_facilitator.services.wording import checkin_phrase, checkout_phrase, curly

DRAFT = "DRAFT / UNSIGNED"
AWAITING = "AWAITING CO-SIGNATURE"
_BLOCK_START = re.compile(r"^(\s*)([#>*+=|`~-]|\d+[.)])")

STATUS_TEXT = {
    "present": "present",
    "late": "late arrival",
    "left_early": "left early",
    "absent_excused": "absent (excused)",
    "absent_unexcused": "absent (unexcused)",
    "cancelled": "cancelled",
}


def _escape_start(m: re.Match[str]) -> str:
    mark = m.group(2)
    if mark[0].isdigit():  # "1." starts a list: escape the dot, not the digit
        return m.group(1) + mark[:-1] + "\\" + mark[-1]
    return m.group(1) + "\\" + mark


def text_block(text: str) -> str:
    """User text as Markdown that renders exactly as typed (one paragraph per blank-line block)."""
    if not text or not text.strip():
        return "_(none recorded)_"
    paragraphs = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = []
        for line in para.split("\n"):
            line = line.replace("\\", "\\\\").replace("<", "&lt;").replace("*", "\\*").replace("_", "\\_")
            lines.append(_BLOCK_START.sub(_escape_start, line))
        # A hard line break inside a paragraph: a trailing backslash (visible, unlike two spaces).
        paragraphs.append("\\\n".join(lines))
    return "\n\n".join(paragraphs)


def cell(text: str | None) -> str:
    """User text inside a table cell: one line, pipes escaped."""
    if not text:
        return ""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def quoted(text: str) -> str:
    """User text quoted inside a line (typographic quotes, escaped as :func:`cell`)."""
    return curly(cell(text))


def _range(start_text: str, end_text: str) -> str:
    if start_text and end_text:
        return f"{start_text}\u2013{end_text}"
    return start_text or end_text or "not recorded"


def _addendum(a: AddendumDoc, tz: str) -> list[str]:
    who = a.author.name if a.author else "unknown author"
    cred = f", {a.credentials}" if a.credentials else ""
    return [
        f"**Addendum** written {local_text(a.written_at, tz)} by {cell(who)}{cell(cred)}"
        + (f". Reason: {cell(a.reason)}" if a.reason else ""),
        "",
        "> " + text_block(a.text).replace("\n", "\n> "),
        "",
    ]


def _safety(e: SafetyDoc, tz: str) -> list[str]:
    disposition = (
        f"Disposition ({local_text(e.disposition_at, tz)}): {cell(e.disposition)}"
        if e.disposition
        else "Disposition: **not recorded**"
    )
    concern = f" Concern: {cell(e.concern)}." if e.concern else ""
    risk = e.risk_level.replace("_", " ")
    return [f"- **Safety event** at {local_text(e.occurred_at, tz, 'HH:mm')}; risk level {risk}.{concern} {disposition}"]


def _member(m: MemberSection, doc: NoteDocument) -> list[str]:
    tz = doc.timezone
    chart = f" (chart {cell(m.chart_id)})" if m.chart_id else ""
    out = [f"### {cell(m.display_name)}{chart}", ""]
    attendance = STATUS_TEXT.get(m.status, m.status)
    if m.drop_in:
        attendance += ", drop-in"
    out.append(f"- **Attendance:** {attendance}{arrived_left(m, tz)}; {m.minutes} minutes")
    if not m.attended:
        out.append("")
        return out
    checkin = checkin_phrase(m.checkin_mood, m.checkin_urge, m.checkin_feeling, quote=quoted)
    if checkin:
        out.append(f"- **Check-in:** {checkin}")
    checkout = checkout_phrase(m.checkout_mood, m.takeaway, quote=quoted)
    if checkout:
        out.append(f"- **Check-out:** {checkout}")
    facts = facts_summary(m.facts)
    if facts:
        out.append(f"- **Note facts:** {cell(facts)}")
    out.append("")
    for part in m.parts:
        if part.key == "goals":
            goals = "; ".join(cell(t) for t in part.paragraphs) if part.paragraphs else "_(none recorded)_"
            out += [f"**{part.heading}:** {goals}", ""]
            continue
        out += [f"**{part.heading}:**", ""]
        for paragraph in part.paragraphs or ("",):
            out += [text_block(paragraph), ""]
    if m.stories:
        out += ["**In-session notes:**", ""]
        for story in m.stories:
            out.append(f"- {local_text(story.recorded_at, tz, 'HH:mm')}: {cell(story.text)}")
        out.append("")
    for e in m.safety_events:
        out += _safety(e, tz)
    if m.safety_events:
        out.append("")
    for a in m.addenda:
        out += _addendum(a, tz)
    return out


def arrived_left(m: MemberSection, tz: str) -> str:
    """'; arrived 18:25, left 19:40' (only the times recorded)."""
    parts = []
    if m.arrived_at is not None:
        parts.append(f"arrived {local_text(m.arrived_at, tz, 'HH:mm')}")
    if m.left_at is not None:
        parts.append(f"left {local_text(m.left_at, tz, 'HH:mm')}")
    return "; " + ", ".join(parts) if parts else ""


def meeting(doc: NoteDocument) -> str:
    """One meeting's section (no file header)."""
    tz = doc.timezone
    draft = f" \u2014 {AWAITING}" if doc.awaiting_cosign else ("" if doc.signed else f" \u2014 {DRAFT}")
    out = [f"## {doc.local_date.isoformat()} \u00b7 {cell(doc.group_name)}{draft}", ""]
    if not doc.signed:
        out += [f"> **{DRAFT}.** This meeting has not been signed; it is not a completed record.", ""]
    elif doc.awaiting_cosign:
        out += [f"> **{AWAITING}.** Signed; a supervisor's co-signature is required and not yet given.", ""]
    sched = _range(local_text(doc.scheduled_start, tz, "HH:mm"), local_text(doc.scheduled_end, tz, "HH:mm"))
    actual = _range(local_text(doc.actual_start, tz, "HH:mm"), local_text(doc.actual_end, tz, "HH:mm"))
    duration = f" ({doc.duration_minutes} min)" if doc.duration_minutes is not None else ""
    modality = "telehealth" if doc.modality == "telehealth" else "in person"
    topic = "not recorded"
    if doc.topic_id:
        title = cell(doc.topic_title) if doc.topic_title else "(title not in the topic library)"
        topic = f"{title} ({cell(doc.topic_id)} v{cell(doc.topic_version or '?')}" + (
            f", sha256 {doc.topic_hash[:12]}" if doc.topic_hash else ""
        ) + ")"
    fac = cell(doc.facilitator.signature) if doc.facilitator else "not recorded"
    co = cell(doc.co_facilitator.signature) if doc.co_facilitator else "none"
    out += [
        "| | |",
        "|---|---|",
        f"| Date | {doc.local_date.isoformat()} ({tz}) |",
        f"| Scheduled | {sched} |",
        f"| Start\u2013stop | {actual}{duration} |",
        f"| Modality | {modality}" + (f", {cell(doc.location)}" if doc.location else "") + " |",
        f"| Group | {cell(doc.group_name)} ({doc.group_type.replace('_', ' ')}); {doc.level_of_care}, {doc.audience} |",
        f"| Topic | {topic} |",
        f"| Members present | {doc.count_present} |",
        f"| Facilitator | {fac} |",
        f"| Co-facilitator | {co} |",
        f"| Note format | {doc.note_format} |",
        "",
        "### Group narrative",
        "",
        text_block(doc.narrative),
        "",
    ]
    if doc.homework.strip():
        out += ["**Homework:**", "", text_block(doc.homework), ""]
    if doc.subject_member_id is None:
        out += ["### Attendance", "", "| Member | Chart id | Status | Arrived | Left | Minutes |", "|---|---|---|---|---|---|"]
        for m in doc.members:
            out.append(
                f"| {cell(m.display_name)} | {cell(m.chart_id)} | {STATUS_TEXT.get(m.status, m.status)}"
                f"{' (drop-in)' if m.drop_in else ''} | {local_text(m.arrived_at, tz, 'HH:mm')} | "
                f"{local_text(m.left_at, tz, 'HH:mm')} | {m.minutes} |"
            )
        out.append("")
    for m in doc.members:
        if m.attended or doc.subject_member_id is not None:  # absences: the attendance table says it all
            out += _member(m, doc)
    if doc.safety_events:
        out += ["### Safety events (group)", ""]
        for e in doc.safety_events:
            out += _safety(e, tz)
        out.append("")
    if doc.addenda:
        out += ["### Addenda", ""]
        for a in doc.addenda:
            out += _addendum(a, tz)
    out += ["### Signatures", ""]
    if doc.signature:
        s = doc.signature
        out.append(f"- Signed electronically by {cell(s.person.name)}, {cell(s.credentials)} on {local_text(s.at, tz)}")
    else:
        out.append(f"- **{DRAFT}:** not signed")
    if doc.cosignature:
        s = doc.cosignature
        out.append(f"- Co-signed by {cell(s.person.name)}, {cell(s.credentials)} on {local_text(s.at, tz)}")
    elif doc.awaiting_cosign:
        out.append(f"- **{AWAITING}:** not yet co-signed")
    if doc.content_hash:
        out.append(f"- Content hash at signing (sha256): `{doc.content_hash}`")
    out.append(f"- Meeting id: `{doc.meeting_id}`")
    out += ["", "---", ""]
    return "\n".join(out) + "\n"


def header(context: ExportContext, subject: MemberSection | None = None) -> str:
    title = f"# {cell(context.program_name)} \u2014 group notes"
    if subject is not None:
        chart = f", chart {cell(subject.chart_id)}" if subject.chart_id else ""
        title += f" for {cell(subject.display_name)}{chart}"
    lines = [
        title,
        "",
        f"> **Notice:** {cell(context.disclosure_notice)}",
        "",
        f"Exported {local_text(context.exported_at, context.timezone)} ({context.timezone}).",
    ]
    if subject is not None:
        lines.append("Other members of the group appear only as initials or \u201ca peer\u201d.")
    lines += ["", "---", ""]
    return "\n".join(lines) + "\n"


def render(docs: Iterable[NoteDocument], context: ExportContext) -> Iterator[str]:
    """The Markdown file in pieces: header, one section per meeting, then the notice again."""
    started = False
    count = 0
    for doc in docs:
        if not started:
            subject = doc.members[0] if doc.subject_member_id and doc.members else None
            yield header(context, subject)
            started = True
        yield meeting(doc)
        count += 1
    if not started:
        yield header(context)
        yield "_No meetings match this export._\n\n"
    yield f"{count} meeting(s). Notice: {cell(context.disclosure_notice)}\n"


def to_text(docs: Iterable[NoteDocument], context: ExportContext) -> str:
    return "".join(render(docs, context))
