"""``iop export``: files for billing and records staff (attendance; notes in ``cli/export_notes.py``).

Every export writes a 0600 file atomically, refuses to replace a file without
``--force``, carries the program's disclosure notice and is recorded in the
audit log. Module-level imports stay light (``iop --help`` walks this module).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from iop_facilitator.cli.common import open_db, parse_date, say, state

app = typer.Typer(help="Exports for staff: attendance for billing, notes for the chart.", no_args_is_help=True)


class AttendanceFormat(str, Enum):
    csv = "csv"
    json = "json"


# The accounting of disclosures (iop audit --disclosures): who received the file and why.
RECIPIENT = typer.Option(
    "--recipient", metavar="TEXT", help="Who receives the file (an organisation or role; kept in the audit log)."
)
PURPOSE = typer.Option("--purpose", metavar="TEXT", help="Why it is disclosed (e.g. billing, subpoena; kept in the audit log).")


def _date_range(since: str | None, until: str | None):
    first, last = parse_date(since, "--since"), parse_date(until, "--until")
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until", param_hint="--since")
    return first, last


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
    from iop_facilitator.exports.attendance import AttendanceFilter, export_sqlite, sqlite_file
    from iop_facilitator.exports.output import check_target

    first, last = _date_range(since, until)
    check_target(out, force=force)  # fail before opening the database
    flt = AttendanceFilter(since=first, until=last, include_unsigned=include_unsigned)
    result = None
    with LazyProgress("Exporting attendance", quiet=quiet) as progress:
        if group is None and member is None:
            path = sqlite_file(state(ctx).target())
            if path is not None:
                result = export_sqlite(
                    path, out, fmt=fmt.value, flt=flt, force=force, progress=progress, recipient=recipient,
                    purpose=purpose,
                )
        if result is None:
            from dataclasses import replace

            from iop_facilitator.exports.attendance import export_database

            database = open_db(ctx)
            if group is not None or member is not None:
                from iop_facilitator.services.groups import resolve_group
                from iop_facilitator.services.members import resolve_member

                with database.session() as session:
                    group_id = resolve_group(session, group).id if group is not None else None
                    member_id = resolve_member(session, member).id if member is not None else None
                flt = replace(flt, group_id=group_id, member_id=member_id)
            result = export_database(
                database, out, fmt=fmt.value, flt=flt, force=force, progress=progress, recipient=recipient,
                purpose=purpose,
            )
    summary(result.records, "attendance rows", result.path)


# Other export commands register below, one line each; their modules keep heavy imports inside
# the command function (iop --help imports this module):
from iop_facilitator.cli.export_notes import notes

app.command("notes")(notes)
