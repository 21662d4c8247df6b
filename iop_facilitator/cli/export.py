"""``iop export``: files for billing and records staff (attendance, notes).

Each command parses its options, calls the export's one function
(``exports.attendance.export_attendance``, ``exports.notes.export_notes``) and prints
one line. Every export writes 0600 files atomically, refuses to replace a file without
``--force``, carries the program's disclosure notice and is recorded in the audit log.
Module-level imports stay light (``iop --help`` walks this module).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from iop_facilitator.cli.common import open_db, parse_date_range, say, state

app = typer.Typer(help="Exports for staff: attendance for billing, notes for the chart.", no_args_is_help=True)


class AttendanceFormat(str, Enum):
    csv = "csv"
    json = "json"


# The accounting of disclosures (iop audit --disclosures): who received the file and why.
RECIPIENT = typer.Option(
    "--recipient", metavar="TEXT", help="Who receives the file (an organisation or role; kept in the audit log)."
)
PURPOSE = typer.Option("--purpose", metavar="TEXT", help="Why it is disclosed (e.g. billing, subpoena; kept in the audit log).")


def summary(count: int, what: str, path: Path) -> None:
    """The one-line result: counts and the file, never names or note text."""
    say(f"Wrote {count:,} {what} to {path} (0600)")


@app.command("attendance")
def attendance(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write.", metavar="PATH")],
    fmt: Annotated[AttendanceFormat, typer.Option("--format", "-f", help="File format.")] = AttendanceFormat.csv,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="First meeting date.")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="Last meeting date.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Only this group (name or id).")] = None,
    member: Annotated[str | None, typer.Option("--member", help="Only this member (name, chart id or id).")] = None,
    include_unsigned: Annotated[
        bool, typer.Option("--include-unsigned", help="Also meetings not signed yet (their rows say signed = no).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    recipient: Annotated[str | None, RECIPIENT] = None,
    purpose: Annotated[str | None, PURPOSE] = None,
) -> None:
    """Attendance for billing: one row per member per meeting, with service codes (signed meetings only by default)."""
    from iop_facilitator.cli.progress import LazyProgress
    from iop_facilitator.exports.attendance import export_attendance

    first, last = parse_date_range(ctx, since, until)
    with LazyProgress("Exporting attendance", quiet=quiet) as progress:
        result = export_attendance(
            state(ctx).target(), out, fmt=fmt.value, open_database=lambda: open_db(ctx), since=first, until=last,
            group=group, member=member, include_unsigned=include_unsigned, force=force, progress=progress,
            recipient=recipient, purpose=purpose,
        )
    summary(result.records, "attendance rows", result.path)


class NotesFormat(str, Enum):
    md = "md"
    json = "json"
    pdf = "pdf"
    fhir = "fhir"


@app.command("notes")
def notes(
    ctx: typer.Context,
    fmt: Annotated[NotesFormat, typer.Option("--format", "-f", help="md, json, pdf or fhir (a FHIR R4 Bundle).")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The file to write (with --per-member: a directory, created if missing)."),
    ],
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="From this day (program timezone).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="Up to this day, inclusive.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Only this group (name or id).")] = None,
    member: Annotated[
        str | None,
        typer.Option("--member", help="Only this member (name, id or chart id); other members appear as initials."),
    ] = None,
    per_member: Annotated[
        bool, typer.Option("--per-member", help="One file per member in the --out directory, holding only their part.")
    ] = False,
    include_unsigned: Annotated[
        bool, typer.Option("--include-unsigned", help="Also export meetings not yet signed, marked DRAFT / UNSIGNED.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    recipient: Annotated[str | None, RECIPIENT] = None,
    purpose: Annotated[str | None, PURPOSE] = None,
) -> None:
    """Export signed group notes (every payer-required element, addenda, disclosure notice)."""
    from iop_facilitator.cli.progress import LazyProgress
    from iop_facilitator.exports.notes import export_notes

    first, last = parse_date_range(ctx, since, until)
    result = export_notes(
        lambda: open_db(ctx), out, fmt=fmt.value, since=first, until=last, group=group, member=member,
        per_member=per_member, include_unsigned=include_unsigned, force=force, recipient=recipient, purpose=purpose,
        progress=lambda label, total, unit: LazyProgress(label, quiet=quiet, total=total, unit=unit),
    )
    marks = f", {result.drafts:,} unsigned marked DRAFT" if result.drafts else ""
    if result.awaiting:
        marks += f", {result.awaiting:,} marked AWAITING CO-SIGNATURE"
    if result.per_member:
        say(
            f"Wrote {result.files:,} file(s) ({result.fmt}, 0600), one per member, "
            f"{result.meetings:,} meeting(s){marks}, in {result.target}"
        )
    else:
        say(f"Wrote {result.meetings:,} meeting(s) of notes ({result.fmt}){marks} to {result.target} (0600)")
