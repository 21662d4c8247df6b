"""Notes export as PDF (fpdf2): chart-ready pages, one meeting per group of pages.

Pure: documents in, bytes out. Every page carries the program name and the meeting in its
header (``DRAFT / UNSIGNED`` when the meeting is not signed) and the disclosure notice and
page number in its footer. Each meeting starts on a new page and ends with its signature
block.

Fonts: fpdf2's core fonts are Latin-1 only (a curly quote, an em dash, an emoji or a
non-Latin script raises ``FPDFUnicodeEncodingException``), so a Unicode TrueType font is
embedded. DejaVu Sans (regular and bold) ships inside the package
(``exports/fonts/``, Bitstream Vera / DejaVu licence in ``LICENSE-DejaVu.txt``: free to
redistribute), so a clinic laptop without system fonts still works and every machine
produces the same PDF. If the bundled files are missing, DejaVu, Noto or Liberation
Sans are looked up among the system fonts. Other system fonts (Noto Sans CJK, Noto
Symbols, Symbola...) found at run time are added as fallbacks for characters DejaVu lacks.
A character no embedded font can draw (for example a colour emoji) is never dropped
silently: it is written as ``[U+1F642]`` and the page says so; the JSON export keeps the
exact text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iop_facilitator.exports.notes_data import (
    AddendumDoc,
    ExportContext,
    MemberSection,
    NoteDocument,
    SafetyDoc,
    local_text,
)
from iop_facilitator.exports.notes_md import AWAITING, DRAFT, STATUS_TEXT, arrived_left
from iop_facilitator.services.formats import facts_summary
from iop_facilitator.services.wording import checkin_phrase, checkout_phrase, curly

BUNDLED_FONTS = Path(__file__).with_name("fonts")
FAMILY = "iopsans"
PAGES_ALIAS = "{total-pages-count}"  # long enough to reserve room for a 5-digit page count

_SYSTEM_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "~/Library/Fonts",
    "C:/Windows/Fonts",
)
# (regular, bold) file names, in order of preference.
_MAIN_CANDIDATES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
)
_FALLBACK_CANDIDATES = (
    "NotoSansSymbols2-Regular.ttf",
    "NotoSansSymbols-Regular.ttf",
    "Symbola.ttf",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "DroidSansFallbackFull.ttf",
    "NotoSansHebrew-Regular.ttf",
    "NotoSansArabic-Regular.ttf",
    "NotoSansDevanagari-Regular.ttf",
)


@dataclass(frozen=True)
class FontChoice:
    regular: Path
    bold: Path | None
    source: str  # "bundled" or "system"
    fallbacks: tuple[Path, ...] = field(default=())


def _system_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base in _SYSTEM_DIRS:
        root = Path(os.path.expanduser(base))
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                found.setdefault(name, Path(dirpath) / name)
    return found


def find_fonts(*, use_bundled: bool = True, system: dict[str, Path] | None = None) -> FontChoice | None:
    """The Unicode fonts to embed, or None when there is none at all (then Latin-1 with placeholders)."""
    files = system if system is not None else _system_files()
    fallbacks = tuple(files[n] for n in _FALLBACK_CANDIDATES if n in files and n.endswith(".ttf"))
    if use_bundled:
        regular, bold = BUNDLED_FONTS / "DejaVuSans.ttf", BUNDLED_FONTS / "DejaVuSans-Bold.ttf"
        if regular.is_file():
            return FontChoice(regular, bold if bold.is_file() else None, "bundled", fallbacks)
    for reg, bold_name in _MAIN_CANDIDATES:
        if reg in files:
            return FontChoice(files[reg], files.get(bold_name), "system", fallbacks)
    return None


def _pdf_class() -> Any:
    from fpdf import FPDF

    class NotesPDF(FPDF):  # type: ignore[misc]
        program = ""
        notice = ""
        running = ""  # the meeting this page belongs to
        font_name = "helvetica"

        def header(self) -> None:
            self.set_font(self.font_name, "B", 9)
            self.cell(0, 5, self.program, new_x="LMARGIN", new_y="NEXT")
            self.set_font(self.font_name, "", 8)
            self.cell(0, 4, self.running, new_x="LMARGIN", new_y="NEXT")
            self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
            self.ln(4)

        notice_lines: tuple[str, ...] = ()  # the notice, wrapped once for every page (see _Writer)

        def footer(self) -> None:
            self.set_y(-16)
            self.set_font(self.font_name, "", 7)
            for line in self.notice_lines:
                self.cell(0, 3.5, line, new_x="LMARGIN", new_y="NEXT")
            self.cell(0, 4, f"Page {self.page_no()} of {PAGES_ALIAS}", align="R")

    return NotesPDF


class _Writer:
    def __init__(self, context: ExportContext, fonts: FontChoice | None) -> None:
        self.context = context
        self.pdf = _pdf_class()(orientation="portrait", unit="mm", format="Letter")
        pdf = self.pdf
        pdf.set_auto_page_break(auto=True, margin=20)
        pdf.alias_nb_pages(PAGES_ALIAS)
        pdf.set_margins(18, 15, 18)
        pdf.set_creation_date(context.exported_at)
        pdf.set_title(f"{context.program_name} - group notes")
        pdf.set_creator("iop-facilitator")
        self.covered: list[set[int]] = []
        self._count_at = (1, 0.0)  # where the cover says how many meetings (see count_on_cover)
        self._widths: dict[tuple[str, str, float, str], float] = {}
        self.placeholders = 0
        if fonts is not None:
            pdf.add_font(FAMILY, "", str(fonts.regular))
            pdf.add_font(FAMILY, "B", str(fonts.bold or fonts.regular))
            names = []
            for index, path in enumerate(fonts.fallbacks):
                name = f"iopfallback{index}"
                try:
                    pdf.add_font(name, "", str(path))
                except Exception:  # noqa: BLE001, S112 - an unreadable system font is skipped
                    continue
                names.append(name)
                self.covered.append(set(pdf.fonts[name].cmap))
            if names:
                pdf.set_fallback_fonts(names, exact_match=False)
            self.covered.insert(0, set(pdf.fonts[FAMILY].cmap))
            pdf.font_name = FAMILY
            self.unicode = True
        else:
            self.unicode = False
        pdf.program = self.safe(context.program_name)
        pdf.notice = self.safe(context.disclosure_notice)
        # Wrapped once here rather than by multi_cell on every page's footer (it measured the
        # notice again for each of thousands of pages).
        self.font("", 7)
        pdf.notice_lines = tuple(self.wrap(f"Notice: {pdf.notice}", pdf.epw))

    # -- text

    def safe(self, text: str | None) -> str:
        """``text`` with every character an embedded font can draw; others as ``[U+XXXX]``."""
        if not text:
            return ""
        if text.isascii():
            return text  # every embedded font (and the core font) draws ASCII
        out = []
        for ch in text:
            code = ord(ch)
            if ch in "\n\t" or (self.unicode and any(code in c for c in self.covered)) or (
                not self.unicode and code < 256
            ):
                out.append(ch)
            elif code in (0x200D, 0xFE0F, 0xFE0E):  # joiners and variation selectors: invisible anyway
                continue
            else:
                self.placeholders += 1
                out.append(f"[U+{code:04X}]")
        return "".join(out)

    def font(self, style: str = "", size: float = 10) -> None:
        self.pdf.set_font(self.pdf.font_name, style, size)

    def width(self, text: str) -> float:
        key = (self.pdf.font_family, self.pdf.font_style, self.pdf.font_size_pt, text)
        found = self._widths.get(key)
        if found is None:
            if len(self._widths) > 50_000:
                self._widths.clear()
            found = self._widths[key] = self.pdf.get_string_width(text)
        return found

    def wrap(self, text: str, width: float, first: float | None = None) -> list[str]:
        """Greedy word wrap measured word by word (fpdf2's multi_cell re-measures the line per
        character, which made long notes quadratic); words wider than a line are split."""
        limit = (first if first is not None else width) - 0.2
        space = self.width(" ")
        out: list[str] = []
        for raw in text.split("\n"):
            line, used = "", 0.0
            for word in raw.split(" "):
                w = self.width(word)
                if line and used + space + w <= limit:
                    line, used = f"{line} {word}", used + space + w
                    continue
                if line:
                    out.append(line)
                    limit = width - 0.2
                while w > limit and len(word) > 1:  # a very long word: break it where it fits
                    cut = len(word) - 1
                    while cut > 1 and self.width(word[:cut]) > limit:
                        cut = max(1, cut * 3 // 4) if self.width(word[: cut * 3 // 4]) > limit else cut - 1
                    out.append(word[:cut])
                    limit = width - 0.2
                    word = word[cut:]
                    w = self.width(word)
                line, used = word, w
            out.append(line)
            limit = width - 0.2
        return out

    def para(self, text: str, *, size: float = 10, style: str = "", h: float = 5) -> None:
        self.font(style, size)
        pdf = self.pdf
        for line in self.wrap(self.safe(text), pdf.epw):
            pdf.cell(0, h, line, new_x="LMARGIN", new_y="NEXT")

    def label(self, name: str, value: str, *, size: float = 10) -> None:
        pdf = self.pdf
        self.font("B", size)
        offset = self.width(name + " ") + 1
        if pdf.will_page_break(5):
            pdf.add_page()
        pdf.cell(offset, 5, name)
        self.font("", size)
        lines = self.wrap(self.safe(value), pdf.epw, first=pdf.epw - offset)
        pdf.cell(0, 5, lines[0], new_x="LMARGIN", new_y="NEXT")
        for line in lines[1:]:
            pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str, size: float = 12) -> None:
        self.pdf.ln(2)
        self.para(text, size=size, style="B", h=6)
        self.pdf.ln(1)

    def block(self, title: str, text: str) -> None:
        self.font("B", 10)
        self.pdf.cell(0, 5, title, new_x="LMARGIN", new_y="NEXT")
        self.para(text.strip() if text and text.strip() else "(none recorded)")
        self.pdf.ln(1)

    # -- content

    def meeting(self, doc: NoteDocument) -> None:
        tz = doc.timezone
        pdf = self.pdf
        draft = f"  -  {AWAITING}" if doc.awaiting_cosign else ("" if doc.signed else f"  -  {DRAFT}")
        pdf.running = self.safe(f"{doc.local_date.isoformat()}  {doc.group_name}{draft}")
        pdf.add_page()
        self.heading(f"{doc.group_name}, {doc.local_date.isoformat()}", 14)
        if not doc.signed:
            pdf.set_text_color(160, 0, 0)
            self.para(f"{DRAFT}: this meeting has not been signed; it is not a completed record.", style="B")
            pdf.set_text_color(0, 0, 0)
            pdf.ln(1)
        elif doc.awaiting_cosign:
            pdf.set_text_color(160, 0, 0)
            self.para(f"{AWAITING}: signed; a supervisor's co-signature is required and not yet given.", style="B")
            pdf.set_text_color(0, 0, 0)
            pdf.ln(1)
        sched = _range(local_text(doc.scheduled_start, tz, "HH:mm"), local_text(doc.scheduled_end, tz, "HH:mm"))
        actual = _range(local_text(doc.actual_start, tz, "HH:mm"), local_text(doc.actual_end, tz, "HH:mm"))
        if doc.duration_minutes is not None:
            actual += f" ({doc.duration_minutes} min)"
        topic = "not recorded"
        if doc.topic_id:
            topic = f"{doc.topic_title or '(title not in the topic library)'} ({doc.topic_id} v{doc.topic_version or '?'})"
        modality = "telehealth" if doc.modality == "telehealth" else "in person"
        self.label("Date:", f"{doc.local_date.isoformat()} ({tz})")
        self.label("Scheduled:", sched)
        self.label("Start-stop:", actual)
        self.label("Modality:", modality + (f", {doc.location}" if doc.location else ""))
        self.label(
            "Group:",
            f"{doc.group_name} ({doc.group_type.replace('_', ' ')}); {doc.level_of_care}, {doc.audience}",
        )
        self.label("Topic:", topic)
        self.label("Members present:", str(doc.count_present))
        self.label("Facilitator:", doc.facilitator.signature if doc.facilitator else "not recorded")
        self.label("Co-facilitator:", doc.co_facilitator.signature if doc.co_facilitator else "none")
        self.label("Note format:", doc.note_format)
        pdf.ln(2)
        self.block("Group narrative", doc.narrative)
        if doc.homework.strip():
            self.block("Homework", doc.homework)
        if doc.subject_member_id is None and doc.members:
            self.heading("Attendance", 11)
            for m in doc.members:
                when = _range(local_text(m.arrived_at, tz, "HH:mm"), local_text(m.left_at, tz, "HH:mm")) if m.attended else "-"
                chart = f" ({m.chart_id})" if m.chart_id else ""
                self.para(
                    f"{m.display_name}{chart}: {STATUS_TEXT.get(m.status, m.status)}"
                    f"{' (drop-in)' if m.drop_in else ''}; {when}; {m.minutes} min",
                    size=9,
                    h=4.5,
                )
        for m in doc.members:
            if m.attended or doc.subject_member_id is not None:
                self.member(m, doc)
        if doc.safety_events:
            self.heading("Safety events (group)", 11)
            for e in doc.safety_events:
                self.safety(e, tz)
        if doc.addenda:
            self.heading("Addenda", 11)
            for a in doc.addenda:
                self.addendum(a, tz)
        self.signatures(doc)

    def member(self, m: MemberSection, doc: NoteDocument) -> None:
        tz = doc.timezone
        chart = f" (chart {m.chart_id})" if m.chart_id else ""
        self.heading(f"{m.display_name}{chart}", 11)
        status = STATUS_TEXT.get(m.status, m.status) + (", drop-in" if m.drop_in else "")
        self.label("Attendance:", f"{status}{arrived_left(m, tz)}; {m.minutes} minutes")
        if not m.attended:
            return
        checkin = checkin_phrase(m.checkin_mood, m.checkin_urge, m.checkin_feeling, quote=curly)
        if checkin:
            self.label("Check-in:", checkin)
        checkout = checkout_phrase(m.checkout_mood, m.takeaway, quote=curly)
        if checkout:
            self.label("Check-out:", checkout)
        facts = facts_summary(m.facts)
        if facts:
            self.label("Note facts:", facts)
        for part in m.parts:
            if part.key == "goals":
                self.label(f"{part.heading}:", "; ".join(part.paragraphs) if part.paragraphs else "(none recorded)")
                self.pdf.ln(1)
            else:
                self.block(part.heading, "\n\n".join(part.paragraphs))
        if m.stories:
            self.font("B", 10)
            self.pdf.cell(0, 5, "In-session notes", new_x="LMARGIN", new_y="NEXT")
            for story in m.stories:
                self.para(f"{local_text(story.recorded_at, tz, 'HH:mm')}: {story.text}", size=9.5)
            self.pdf.ln(1)
        for e in m.safety_events:
            self.safety(e, tz)
        for a in m.addenda:
            self.addendum(a, tz)

    def safety(self, e: SafetyDoc, tz: str) -> None:
        text = f"Safety event at {local_text(e.occurred_at, tz, 'HH:mm')}; risk level {e.risk_level.replace('_', ' ')}."
        if e.concern:
            text += f" Concern: {e.concern}."
        text += (
            f" Disposition ({local_text(e.disposition_at, tz)}): {e.disposition}" if e.disposition else " Disposition: not recorded"
        )
        self.para(text, size=9.5)
        self.pdf.ln(1)

    def addendum(self, a: AddendumDoc, tz: str) -> None:
        who = a.author.name if a.author else "unknown author"
        cred = f", {a.credentials}" if a.credentials else ""
        self.para(f"Addendum written {local_text(a.written_at, tz)} by {who}{cred}", style="B", size=9.5)
        if a.reason:
            self.para(f"Reason: {a.reason}", size=9.5)
        self.para(a.text, size=9.5)
        self.pdf.ln(1)

    def signatures(self, doc: NoteDocument) -> None:
        tz = doc.timezone
        self.heading("Signatures", 11)
        if doc.signature:
            s = doc.signature
            self.para(f"Signed electronically by {s.person.name}, {s.credentials} on {local_text(s.at, tz)} ({tz})")
        else:
            self.pdf.set_text_color(160, 0, 0)
            self.para(f"{DRAFT}: not signed", style="B")
            self.pdf.set_text_color(0, 0, 0)
        if doc.cosignature:
            s = doc.cosignature
            self.para(f"Co-signed by {s.person.name}, {s.credentials} on {local_text(s.at, tz)} ({tz})")
        elif doc.awaiting_cosign:
            self.pdf.set_text_color(160, 0, 0)
            self.para(f"{AWAITING}: not yet co-signed", style="B")
            self.pdf.set_text_color(0, 0, 0)
        if doc.content_hash:
            self.para(f"Content hash at signing (sha256): {doc.content_hash}", size=8)
        self.para(f"Meeting id: {doc.meeting_id}", size=8)

    def count_on_cover(self, count: int) -> None:
        """Write "Meetings in this file" on the cover, left blank while the meetings streamed past."""
        pdf = self.pdf
        page, y = self._count_at
        last, x, end = pdf.page, pdf.get_x(), pdf.get_y()
        pdf.page = page
        pdf.set_xy(pdf.l_margin, y)
        self.para(f"Meetings in this file: {count}")
        pdf.page = last
        pdf.set_xy(x, end)

    def cover(self, count: int | None, subject: MemberSection | None) -> None:
        pdf = self.pdf
        pdf.running = ""
        pdf.add_page()
        title = "Group notes"
        if subject is not None:
            title += f" for {subject.display_name}" + (f" (chart {subject.chart_id})" if subject.chart_id else "")
        self.heading(title, 16)
        self.para(f"Notice: {self.context.disclosure_notice}", style="B")
        pdf.ln(2)
        self.para(f"Exported {local_text(self.context.exported_at, self.context.timezone)} ({self.context.timezone})")
        if count is None:  # streamed: the count is written here once every meeting is (see count_on_cover)
            self._count_at = (pdf.page, pdf.get_y())
            pdf.ln(5)
        else:
            self.para(f"Meetings in this file: {count}")
        if subject is not None:
            self.para("Other members of the group appear only as initials or \u201ca peer\u201d.")

    def finish(self) -> bytes:
        if self.placeholders:
            self.pdf.ln(3)
            self.para(
                f"{self.placeholders} character(s) that no embedded font can draw are shown as [U+XXXX] "
                "(their Unicode code point); the JSON export holds the exact text.",
                size=8,
            )
        return bytes(self.pdf.output())


def _range(start: str, end: str) -> str:
    if start and end:
        return f"{start}\u2013{end}"
    return start or end or "not recorded"


def render(
    docs: Iterable[NoteDocument], context: ExportContext, *, fonts: FontChoice | None | str = "auto"
) -> tuple[bytes, int]:
    """The PDF bytes and the number of meetings in it.

    ``docs`` is consumed one document at a time (each meeting is drawn as it arrives, so the
    caller's progress follows the drawing and no list of documents is held); the cover's
    count is filled in at the end. ``fonts="auto"`` finds them with :func:`find_fonts`; pass a
    :class:`FontChoice` or None (Latin-1 core font with placeholders) to choose.
    """
    choice = find_fonts() if fonts == "auto" else fonts
    writer = _Writer(context, choice if isinstance(choice, FontChoice) else None)
    stream = iter(docs)
    first = next(stream, None)
    subject = first.members[0] if first is not None and first.subject_member_id and first.members else None
    writer.cover(None, subject)
    count = 0
    if first is not None:
        writer.meeting(first)
        count = 1
        for doc in stream:
            writer.meeting(doc)
            count += 1
    else:
        writer.para("No meetings match this export.")
    writer.count_on_cover(count)
    return writer.finish(), count
