"""``iop staff``: the people who lead groups and sign notes."""

from __future__ import annotations

from typing import Annotated

import typer

from iop_facilitator.cli.common import open_db, print_json, print_table, record_dict, say, short
from iop_facilitator.enums import StaffRole

app = typer.Typer(help="Staff: facilitators, supervisors and admins, with credentials.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Full name as it appears on a signature.")],
    credentials: Annotated[str, typer.Option("--credentials", "-c", help="e.g. LCSW, LPC, CADC.")] = "",
    role: Annotated[StaffRole, typer.Option("--role")] = StaffRole.facilitator,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new record as JSON.")] = False,
) -> None:
    """Add a staff member."""
    from iop_facilitator.services.staff import add_staff, signature_line

    database = open_db(ctx)
    with database.begin() as session:
        person = add_staff(session, name, credentials, role)
        data = record_dict(person)
    if as_json:
        print_json(data)
    else:
        say(f"Added {signature_line(person)} ({short(person.id)}) as {person.role.value}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List active staff."""
    from iop_facilitator.services.staff import list_staff

    database = open_db(ctx)
    with database.session() as session:
        people = list_staff(session)
    if as_json:
        print_json([record_dict(p) for p in people])
        return
    print_table(
        "Staff",
        ["id", "name", "credentials", "role"],
        [[short(p.id), p.name, p.credentials, p.role.value] for p in people],
        empty="No staff yet. Add one with: iop staff add 'Name' --credentials LCSW",
    )
