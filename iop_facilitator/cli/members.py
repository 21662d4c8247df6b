"""``iop member``: add, enroll, list and discharge members; set their goals."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from iop_facilitator.cli.common import open_db, parse_date, print_json, print_table, record_dict, say, short
from iop_facilitator.enums import ExitReason

app = typer.Typer(help="Members: display names, enrollment, goals and discharge.", no_args_is_help=True)


def _today(session) -> object:  # noqa: ANN001
    from iop_facilitator.clock import local_today
    from iop_facilitator.services.settings import get_settings

    return local_today(get_settings(session).timezone)


@app.command("add")
def add(
    ctx: typer.Context,
    display_name: Annotated[str, typer.Argument(help="Preferred first name and last initial, e.g. 'Jordan M.'.")],
    chart_id: Annotated[Optional[str], typer.Option("--chart-id", help="The member's id in your EHR.")] = None,
    goal: Annotated[
        Optional[list[str]], typer.Option("--goal", "-g", help="A treatment-plan goal; repeat for up to three.")
    ] = None,
    group: Annotated[Optional[str], typer.Option("--group", help="Enroll in this group (name or id).")] = None,
    start: Annotated[Optional[str], typer.Option("--start", metavar="YYYY-MM-DD", help="Enrollment start (default today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new member as JSON.")] = False,
) -> None:
    """Add a member, optionally with goals and an enrollment."""
    from iop_facilitator.services import members as svc
    from iop_facilitator.services.groups import resolve_group

    start_date = parse_date(start, "--start", ctx=ctx)
    database = open_db(ctx)
    with database.begin() as session:
        target = resolve_group(session, group) if group else None
        member = svc.add_member(session, display_name, external_chart_id=chart_id, goals=goal or [])
        if target is not None:
            svc.enroll(session, member, target, start_date or _today(session))
        data = record_dict(member)
    if as_json:
        print_json(data)
    else:
        where = f", enrolled in {target.name}" if target is not None else ""
        say(f"Added member {member.display_name} ({short(member.id)}){where}")


@app.command("enroll")
def enroll(
    ctx: typer.Context,
    member: Annotated[str, typer.Argument(help="Member (name, chart id or id).")],
    group: Annotated[str, typer.Argument(help="Group (name or id).")],
    start: Annotated[Optional[str], typer.Option("--start", metavar="YYYY-MM-DD", help="Default today.")] = None,
) -> None:
    """Enroll a member in a group."""
    from iop_facilitator.services import members as svc
    from iop_facilitator.services.groups import resolve_group

    start_date = parse_date(start, "--start", ctx=ctx)
    database = open_db(ctx)
    with database.begin() as session:
        who = svc.resolve_member(session, member)
        where = resolve_group(session, group)
        svc.enroll(session, who, where, start_date or _today(session))
    say(f"Enrolled {who.display_name} in {where.name}")


@app.command("goals")
def goals(
    ctx: typer.Context,
    member: Annotated[str, typer.Argument(help="Member (name, chart id or id).")],
    goal: Annotated[list[str], typer.Argument(help="One to three treatment-plan goals, in order.")],
) -> None:
    """Replace a member's treatment-plan goals (one to three)."""
    from iop_facilitator.services import members as svc

    database = open_db(ctx)
    with database.begin() as session:
        who = svc.resolve_member(session, member)
        saved = svc.set_goals(session, who, goal)
    say(f"{who.display_name} now has {len(saved)} goal(s)")


@app.command("list")
def list_(
    ctx: typer.Context,
    group: Annotated[Optional[str], typer.Option("--group", help="Only members enrolled in this group.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include discharged members.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List members with their current groups."""
    from iop_facilitator.services import members as svc
    from iop_facilitator.services.groups import resolve_group

    database = open_db(ctx)
    with database.session() as session:
        target = resolve_group(session, group) if group else None
        rows = svc.list_members(session, group=target, include_discharged=all_)
        goal_counts = {r.member.id: len(svc.goals_of(session, r.member)) for r in rows} if not as_json else {}
        goal_texts = {r.member.id: [g.text for g in svc.goals_of(session, r.member)] for r in rows} if as_json else {}
    if as_json:
        print_json([record_dict(r.member, groups=r.groups, goals=goal_texts[r.member.id]) for r in rows])
        return
    print_table(
        "Members" + (f" of {target.name}" if target else ""),
        ["id", "display name", "chart id", "status", "groups", "goals"],
        [
            [
                short(r.member.id),
                r.member.display_name,
                r.member.external_chart_id or "",
                r.member.status.value,
                ", ".join(r.groups),
                goal_counts[r.member.id],
            ]
            for r in rows
        ],
        empty="No members. Add one with: iop member add 'First L.'",
    )


@app.command("discharge")
def discharge(
    ctx: typer.Context,
    member: Annotated[str, typer.Argument(help="Member (name, chart id or id).")],
    reason: Annotated[ExitReason, typer.Option("--reason", help="Why the member leaves.")],
    on: Annotated[Optional[str], typer.Option("--date", metavar="YYYY-MM-DD", help="Exit date (default today).")] = None,
    group: Annotated[
        Optional[str], typer.Option("--group", help="Only leave this group (the member stays in the program).")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="A short exit note.")] = "",
) -> None:
    """Discharge a member from the program (or only from one group with --group)."""
    from iop_facilitator.services import members as svc
    from iop_facilitator.services.groups import resolve_group

    exit_date = parse_date(on, "--date", ctx=ctx)
    database = open_db(ctx)
    with database.begin() as session:
        who = svc.resolve_member(session, member)
        target = resolve_group(session, group) if group else None
        ended = svc.discharge(session, who, reason=reason, on=exit_date or _today(session), note=note, group=target)
    if target is not None:
        say(f"{who.display_name} left {target.name} ({reason.value})")
    else:
        say(f"Discharged {who.display_name} ({reason.value}); {len(ended)} enrollment(s) ended")
