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
    disclosures: Annotated[
        bool,
        typer.Option("--disclosures", help="The accounting of disclosures: every export, to whom, why, file hashes."),
    ] = False,
    member: Annotated[
        str | None, typer.Option("--member", help="With --disclosures: only exports holding this member's records.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="YYYY-MM-DD", help="Show a table as it stood at the end of that day (program timezone)."),
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="With --as-of: settings, staff, group, member, goal or enrollment.")
    ] = None,
    record: Annotated[str | None, typer.Option("--record", metavar="ID", help="With --as-of: only this record id.")] = None,
) -> None:
    """Show the audit log: signing, co-signing, addenda, exports, backups, restores, settings and more.

    --disclosures lists what left the program (HIPAA accounting of disclosures);
    --as-of DATE --table T shows what reference data said on a given day.
    """
    from iop_facilitator.services.audit import list_events

    start, end = parse_date(since, "--since", ctx=ctx, utc=True), parse_date(until, "--until", ctx=ctx, utc=True)
    if start and end and end < start:
        raise typer.BadParameter("--until is before --since", param_hint="--until")
    if member is not None and not disclosures:
        raise typer.BadParameter("--member goes with --disclosures", param_hint="--member")
    if (table is not None or record is not None) and as_of is None:
        raise typer.BadParameter("--table and --record go with --as-of", param_hint="--table")
    if as_of is not None:
        _as_of(ctx, as_of, table, record, as_json)
        return
    if disclosures:
        _disclosures(ctx, member, start, end, as_json)
        return
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


def _as_of(ctx: typer.Context, day_text: str, table: str | None, record: str | None, as_json: bool) -> None:
    import datetime as dt

    import pendulum

    from iop_facilitator.services import history
    from iop_facilitator.services.settings import get_settings

    day = parse_date(day_text, "--as-of", ctx=ctx)
    if table is None:
        raise typer.BadParameter(f"--as-of needs --table ({', '.join(history.TABLES)})", param_hint="--table")
    database = open_db(ctx)
    with database.session() as session:
        tz = get_settings(session).timezone
        end = pendulum.datetime(day.year, day.month, day.day, tz=tz).add(days=1)
        when = dt.datetime.fromtimestamp(end.timestamp(), dt.UTC) - dt.timedelta(microseconds=1)
        rows = history.as_of(session, table, when, row_id=history.parse_id(record) if record else None)
    columns = list(history.TABLES[table][1])
    if as_json:
        print_json([{"id": r.row_id, **r.values, "changed_since": r.changed_since, "deleted_since": r.deleted_since}
                    for r in rows])
        return
    body = [[r.row_id[:12], *(_cell(r.values.get(c)) for c in columns),
             "deleted since" if r.deleted_since else ("changed since" if r.changed_since else "")] for r in rows]
    print_table(f"{table} as of the end of {day.isoformat()} ({tz})", ["id", *columns, "since then"], body,
                empty="no such records on that day")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _disclosures(ctx: typer.Context, member: str | None, start, end, as_json: bool) -> None:
    from iop_facilitator.services import history
    from iop_facilitator.services.members import resolve_member

    database = open_db(ctx)
    with database.session() as session:
        member_id = resolve_member(session, member).id if member else None
        found = history.disclosures(session, member_id=member_id, since=start, until=end)
    if as_json:
        print_json([
            {"seq": d.seq, "occurred_at": d.occurred_at.isoformat(), "actor": d.actor, "export": d.kind,
             "format": d.fmt, "records": d.records, "recipient": d.recipient or None, "purpose": d.purpose or None,
             "filters": d.filters, "files": d.files}
            for d in found
        ])
        return
    rows = [
        [d.seq, d.occurred_at.strftime("%Y-%m-%d %H:%M"), d.actor, f"{d.kind} {d.fmt}", d.records,
         d.recipient or "-", d.purpose or "-",
         ", ".join(f["sha256"][:12] for f in d.files[:2]) + (f" +{len(d.files) - 2}" if len(d.files) > 2 else "")]
        for d in reversed(found)
    ]
    title = "Disclosures (exports), newest first" + (" holding this member's records" if member else "")
    print_table(title, ["#", "When (UTC)", "Who", "Export", "Records", "Recipient", "Purpose", "Files (sha256)"],
                rows, empty="no disclosures recorded")
