"""``iop audit``: the audit log (who, when, what action, which record). Ids only, never note text."""

from __future__ import annotations

from typing import Annotated

import typer

from iop_facilitator.cli.common import open_db, parse_date, print_json, print_table


def audit(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="From this day (UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="Up to and including this day (UTC).")] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", metavar="ACTION", help="Only this action (e.g. meeting.sign), or a prefix ending in '.' (e.g. db.)."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many (newest first).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array (oldest first).")] = False,
) -> None:
    """Show the audit log: signing, co-signing, addenda, exports, backups, restores, settings and more."""
    from iop_facilitator.services.audit import list_events

    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if start and end and end < start:
        raise typer.BadParameter("--until is before --since", param_hint="--until")
    database = open_db(ctx)
    with database.session() as session:
        events = list_events(session, since=start, until=end, action=action, limit=limit)
    if as_json:
        print_json([
            {
                "seq": e.seq, "occurred_at": e.occurred_at.isoformat(), "actor": e.actor, "action": e.action,
                "record_type": e.record_type, "record_id": e.record_id, "details": e.details,
            }
            for e in events
        ])
        return
    rows = [
        [e.seq, e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action,
         f"{e.record_type} {e.record_id or ''}".strip(), _details(e.details)]
        for e in reversed(events)
    ]
    print_table("Audit log (UTC, newest first)", ["#", "When (UTC)", "Who", "Action", "Record", "Details"], rows,
                empty="no audit entries match")


def _details(details: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((details or {}).items()))
