"""``iop group``: add and list groups."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from iop_facilitator.cli.common import open_db, parse_date, print_json, print_table, record_dict, say, short
from iop_facilitator.enums import Audience, Enrollment, GroupStatus, GroupType, LevelOfCare, Modality

app = typer.Typer(help="Groups: their schedule, level of care and facilitators.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The group's name, e.g. 'Evening IOP'.")],
    group_type: Annotated[GroupType, typer.Option("--type", help="Kind of group.")] = GroupType.process,
    days: Annotated[str, typer.Option("--days", help="Weekdays it meets, e.g. mon,wed,fri.")] = "mon,wed,fri",
    start: Annotated[str, typer.Option("--start", metavar="HH:MM", help="Local start time.")] = "09:00",
    minutes: Annotated[int, typer.Option("--minutes", help="Length of each meeting.")] = 180,
    enrollment: Annotated[Enrollment, typer.Option("--enrollment", help="Open or closed enrollment.")] = Enrollment.open,
    level: Annotated[LevelOfCare, typer.Option("--level", help="Level of care.")] = LevelOfCare.IOP,
    audience: Annotated[Audience, typer.Option("--audience")] = Audience.adult,
    modality: Annotated[Modality, typer.Option("--modality")] = Modality.in_person,
    location: Annotated[str, typer.Option("--location", help="Room or telehealth link label.")] = "",
    capacity: Annotated[int, typer.Option("--capacity", min=1, max=100, help="Most members at once.")] = 15,
    facilitator: Annotated[
        Optional[list[str]], typer.Option("--facilitator", "-f", help="Default facilitator (name or id); repeat for co-facilitators.")
    ] = None,
    start_date: Annotated[Optional[str], typer.Option("--start-date", metavar="YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new group as JSON.")] = False,
) -> None:
    """Add a group."""
    from iop_facilitator.services import groups as svc
    from iop_facilitator.services.staff import resolve_staff

    begins = parse_date(start_date, "--start-date", ctx=ctx)
    database = open_db(ctx)
    with database.begin() as session:
        people = [resolve_staff(session, ref) for ref in facilitator or []]
        group = svc.add_group(
            session,
            name,
            group_type=group_type,
            weekdays=days,
            start_time=start,
            duration_minutes=minutes,
            enrollment=enrollment,
            level_of_care=level,
            audience=audience,
            modality=modality,
            location=location,
            capacity=capacity,
            start_date=begins,
            facilitators=people,
        )
        data = record_dict(group)
    if as_json:
        print_json(data)
    else:
        say(f"Added group {group.name} ({short(group.id)}): {svc.schedule_text(group)}")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[Optional[GroupStatus], typer.Option("--status", help="Only groups with this status.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List groups with their schedule and how many members are enrolled today."""
    from iop_facilitator.clock import local_today
    from iop_facilitator.services import groups as svc
    from iop_facilitator.services.settings import get_settings

    database = open_db(ctx)
    with database.session() as session:
        today = local_today(get_settings(session).timezone)
        found = svc.list_groups(session, status)
        counts = svc.enrolled_counts(session, today)
        leads = {g.id: [p.name for p in svc.facilitators_of(session, g)] for g in found}
    if as_json:
        print_json([record_dict(g, enrolled=counts.get(g.id, 0), facilitators=leads[g.id]) for g in found])
        return
    print_table(
        "Groups",
        ["id", "name", "kind", "meets", "enrolled", "lead", "status"],
        [
            [
                short(g.id),
                g.name,
                f"{g.level_of_care.value} {g.group_type.value.replace('_', ' ')}, {g.audience.value}",
                svc.schedule_text(g),
                f"{counts.get(g.id, 0)}/{g.capacity}",
                leads[g.id][0] if leads[g.id] else "",
                g.status.value,
            ]
            for g in found
        ],
        empty="No groups yet. Add one with: iop group add NAME",
    )
