"""``iop meeting``: list group meetings."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from iop_facilitator.cli.common import open_db, parse_date, print_json, print_table, record_dict, short

app = typer.Typer(help="Group meetings (sessions).", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    group: Annotated[Optional[str], typer.Option("--group", help="Only this group (name or id).")] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="YYYY-MM-DD", help="From this day.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", metavar="YYYY-MM-DD", help="Up to this day.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="At most this many (newest first).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List meetings, newest first, with attendance counts."""
    from iop_facilitator.clock import to_local
    from iop_facilitator.services.groups import resolve_group
    from iop_facilitator.services.meetings import list_meetings
    from iop_facilitator.services.settings import get_settings

    first, last = parse_date(since, "--since"), parse_date(until, "--until")
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until", param_hint="--since")
    database = open_db(ctx)
    with database.session() as session:
        tz = get_settings(session).timezone
        target = resolve_group(session, group) if group else None
        rows = list_meetings(session, group=target, since=first, until=last, limit=limit)
    if as_json:
        print_json(
            [
                record_dict(r.meeting, group_name=r.group_name, facilitator=r.facilitator, present=r.present, absent=r.absent)
                for r in rows
            ]
        )
        return

    def hhmm(value) -> str:  # noqa: ANN001
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
                r.meeting.status.value,
            ]
            for r in rows
        ],
        empty="No meetings match.",
    )
