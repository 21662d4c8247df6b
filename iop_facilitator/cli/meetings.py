"""``iop meeting``: list and show group meetings; addenda, co-signature, sign-time checks, payer review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iop_facilitator.cli.common import (
    open_db,
    parse_date_range,
    print_json,
    print_table,
    record_dict,
    say,
    short,
)

app = typer.Typer(help="Group meetings (sessions).", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option("--group", help="Only this group (name or id).")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="From this day.")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="Up to this day.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many (newest first).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List meetings, newest first, with attendance counts."""
    from iop_facilitator.clock import to_local
    from iop_facilitator.services.groups import resolve_group
    from iop_facilitator.services.meetings import list_meetings
    from iop_facilitator.services.settings import get_settings

    first, last = parse_date_range(ctx, since, until)
    database = open_db(ctx)
    with database.session() as session:
        tz = get_settings(session).timezone
        target = resolve_group(session, group) if group else None
        rows = list_meetings(session, group=target, since=first, until=last, limit=limit)
        from iop_facilitator.services.cosign import awaiting_cosign_ids

        pending = awaiting_cosign_ids(session, [r.meeting.id for r in rows if r.meeting.status.value == "signed"])
    if as_json:
        print_json(
            [
                record_dict(r.meeting, group_name=r.group_name, facilitator=r.facilitator, present=r.present,
                            absent=r.absent, awaiting_cosign=r.meeting.id in pending)
                for r in rows
            ]
        )
        return

    def hhmm(value) -> str:
        local = to_local(value, tz)
        return local.format("HH:mm") if local else ""

    print_table(
        "Meetings",
        ["id", "date", "start", "group", "topic", "present", "status"],
        [
            [
                short(r.meeting.id),
                r.meeting.local_date.isoformat(),
                hhmm(r.meeting.scheduled_start),
                r.group_name,
                r.meeting.topic_id or "",
                f"{r.present}/{r.present + r.absent}",
                r.meeting.status.value + (", awaiting co-signature" if r.meeting.id in pending else ""),
            ]
            for r in rows
        ],
        empty="No meetings match.",
    )


def _print(text) -> None:
    """Rich text to stdout, never interpreted as markup (user text is cleaned by the caller)."""
    from rich.console import Console

    Console(highlight=False).print(text, markup=False, emoji=False, soft_wrap=True)


def _when(value, tz: str) -> str:
    from iop_facilitator.clock import to_local

    local = to_local(value, tz)
    return local.format("YYYY-MM-DD HH:mm zz") if local else ""


@app.command("show")
def show(
    ctx: typer.Context,
    meeting: Annotated[str, typer.Argument(help="Meeting id (or the id prefix shown by 'iop meeting list').")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one meeting: the original record (untouched once signed), then its addenda."""
    from rich.text import Text

    from iop_facilitator.services.formats import facts_summary, note_parts
    from iop_facilitator.services.live_read import load_snapshot
    from iop_facilitator.services.meetings import resolve_meeting
    from iop_facilitator.services.text import clean, clean_line

    database = open_db(ctx)
    with database.session() as session:
        found = resolve_meeting(session, meeting)
        snap = load_snapshot(session, found.id)
        goals = {g.id: g for m in snap.members for g in m.goals}
    if as_json:
        from dataclasses import asdict

        print_json(asdict(snap) | {"awaiting_cosign": snap.awaiting_cosign})
        return
    tz = snap.timezone
    out = Text()

    def row(label: str, value: str) -> None:
        out.append(f"{label:<16}", style="bold")
        out.append(clean_line(value) + "\n")

    out.append(f"{clean_line(snap.group_name)} · {snap.local_date.isoformat()}\n", style="bold")
    row("Meeting", str(snap.meeting_id))
    row("Status", snap.status.value + (" · awaiting co-signature" if snap.awaiting_cosign else ""))
    row("Time", f"{_when(snap.actual_start, tz) or 'not started'} – {_when(snap.actual_end, tz) or 'not finished'}")
    row("Topic", f"{snap.topic_id} v{snap.topic_version}" if snap.topic_id else "not chosen")
    lead = snap.facilitator or "none"
    row("Facilitator", f"{lead}, {snap.facilitator_credentials}" if snap.facilitator_credentials else lead)
    if snap.co_facilitator:
        row("Co-facilitator", snap.co_facilitator)
    row("Present", f"{len(snap.attended)} of {len(snap.members)}")
    if snap.signed_at:
        row("Signed", f"{snap.signer}, {snap.signer_credentials or ''} at {_when(snap.signed_at, tz)}")
    if snap.cosigned_at:
        row("Co-signed", f"{snap.cosigner}, {snap.cosigner_credentials or ''} at {_when(snap.cosigned_at, tz)}")
    if snap.narrative.strip():
        out.append("\nGroup narrative\n", style="bold")
        out.append(clean(snap.narrative).strip() + "\n")
    for line in snap.members:
        status = line.status.value.replace("_", " ") if line.status else "not marked"
        out.append(f"\n{clean_line(line.display_name)}", style="bold")
        out.append(f" · {status}\n")
        if line.note is None:
            continue
        facts = facts_summary(line.facts)
        if facts:
            out.append("  Facts: ", style="bold")
            out.append(clean_line(facts) + "\n")
        addressed = [goals[g] for g in line.note.goal_ids if g in goals]
        for part in note_parts(snap.note_format, addressed, line.note, line.facts):
            out.append(f"  {part.heading}: ", style="bold")
            out.append("\n    ".join(clean(p).strip() for p in part.paragraphs) + "\n")
    if snap.addenda:
        out.append("\nAddenda (corrections; the original above is unchanged)\n", style="bold")
        for number, item in enumerate(snap.addenda, start=1):
            about = f" · about {clean_line(item.member_name)}" if item.member_name else ""
            out.append(f"  #{number} {_when(item.created_at, tz)} · {clean_line(item.author)}, "
                       f"{clean_line(item.author_credentials)}{about}\n", style="bold")
            out.append(f"  Reason: {clean_line(item.reason)}\n")
            out.append("  " + clean(item.text).strip().replace("\n", "\n  ") + "\n")
    _print(out)


@app.command("addendum")
def addendum(
    ctx: typer.Context,
    meeting: Annotated[str, typer.Argument(help="Meeting id (or id prefix) of a signed meeting.")],
    author: Annotated[str, typer.Option("--author", help="Staff member writing it (name or id; needs credentials).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the record is corrected.")],
    text: Annotated[str | None, typer.Option("--text", help="The addendum's text; '-' reads standard input.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the text from this UTF-8 file.",
                                                exists=True, dir_okay=False, readable=True)] = None,
    member: Annotated[str | None, typer.Option("--member", help="Attach it to this member's part (name or id).")] = None,
) -> None:
    """Add a dated, signed correction to a signed meeting (the original stays as it was)."""
    import sys

    from iop_facilitator.services.addenda import add_addendum
    from iop_facilitator.services.meetings import resolve_meeting
    from iop_facilitator.services.members import resolve_member
    from iop_facilitator.services.staff import resolve_staff

    if (text is None) == (file is None):
        raise typer.BadParameter("give the text with --text (or --text - for standard input) or --file",
                                 param_hint="--text")
    if file is not None:
        body = file.read_text(encoding="utf-8", errors="replace")
    elif text == "-":
        body = sys.stdin.read()
    else:
        body = text or ""
    database = open_db(ctx)
    with database.begin() as session:
        found = resolve_meeting(session, meeting)
        person = resolve_staff(session, author)
        member_id = resolve_member(session, member).id if member else None
        row = add_addendum(session, found.id, person.id, reason=reason, text=body, member_id=member_id)
        ident = row.id
    say(f"Addendum {short(ident)} added to meeting {short(found.id)}")


@app.command("cosign")
def cosign_(
    ctx: typer.Context,
    meeting: Annotated[str, typer.Argument(help="Meeting id (or id prefix) of a signed meeting.")],
    by: Annotated[str, typer.Option("--by", help="The supervisor co-signing (name or id; needs credentials).")],
) -> None:
    """Co-sign a signed meeting as a supervisor (required for staff marked --requires-cosign)."""
    from iop_facilitator.services.cosign import cosign
    from iop_facilitator.services.meetings import resolve_meeting
    from iop_facilitator.services.staff import resolve_staff, signature_line

    database = open_db(ctx)
    with database.begin() as session:
        found = resolve_meeting(session, meeting)
        person = resolve_staff(session, by)
        cosign(session, found.id, person.id)
        line = signature_line(person)
    say(f"Meeting {short(found.id)} co-signed by {line}")


@app.command("check")
def check(
    ctx: typer.Context,
    meeting: Annotated[str, typer.Argument(help="Meeting id (or id prefix).")],
) -> None:
    """Run the sign-time checks: cloned notes, other members' names, open safety events (exit 1 if blocked)."""
    from rich.text import Text

    from iop_facilitator.services.meetings import resolve_meeting
    from iop_facilitator.services.signcheck import sign_checks
    from iop_facilitator.services.text import clean_line

    database = open_db(ctx)
    with database.session() as session:
        found = resolve_meeting(session, meeting)
        findings = sign_checks(session, found.id)
    if not findings:
        say("No findings: nothing to review before signing.")
        return
    out = Text()
    for item in findings:
        out.append("BLOCKS SIGNING " if item.blocking else "WARNING ", style="bold")
        out.append(clean_line(item.message) + "\n")
        for sentence in item.sentences:
            out.append("    repeated: ", style="dim")
            out.append(clean_line(sentence) + "\n", style="reverse")
    _print(out)
    if any(item.blocking for item in findings):
        raise typer.Exit(1)


@app.command("review")
def review(
    ctx: typer.Context,
    meeting: Annotated[str | None, typer.Argument(help="Meeting id (or id prefix); or use --since/--until.")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="Every finished meeting from this day.")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="Up to this day.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="With a date range: only this group (name or id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array (one item per meeting).")] = False,
) -> None:
    """The payer lens: what an auditor would question in the notes, per member and field (reads only)."""
    from iop_facilitator.services.payer_lens import as_dict, reviews

    first, last = parse_date_range(ctx, since, until)
    database = open_db(ctx)
    with database.session() as session:
        found = reviews(session, meeting=meeting, since=first, until=last, group=group)
    if as_json:
        print_json([as_dict(item) for item in found])
        return
    rows = [[item.local_date.isoformat(), item.group_name, short(item.meeting_id), f.member, f.field, f.kind, f.message]
            for item in found for f in item.flags]
    flagged = sum(1 for item in found if item.flags)
    print_table(f"Payer review: {len(rows)} flag(s) in {flagged} of {len(found)} meeting(s)",
                ["Date", "Group", "Meeting", "Member", "Field", "Flag", "What to fix"], rows,
                empty=f"No flags in {len(found)} meeting(s): nothing an auditor would question here.")
