"""``iop staff``: the people who lead groups and sign notes."""

from __future__ import annotations

from typing import Annotated, Optional

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
    requires_cosign: Annotated[
        bool,
        typer.Option("--requires-cosign/--no-requires-cosign",
                     help="Their signed notes also need a supervisor's co-signature (interns, unlicensed staff)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new record as JSON.")] = False,
) -> None:
    """Add a staff member."""
    from iop_facilitator.services.staff import add_staff, signature_line

    database = open_db(ctx)
    with database.begin() as session:
        person = add_staff(session, name, credentials, role, requires_cosign=requires_cosign)
        data = record_dict(person)
    if as_json:
        print_json(data)
    else:
        extra = " (notes need a co-signature)" if person.requires_cosign else ""
        say(f"Added {signature_line(person)} ({short(person.id)}) as {person.role.value}{extra}")


@app.command("edit")
def edit(
    ctx: typer.Context,
    staff: Annotated[str, typer.Argument(help="Name or id of the staff member.")],
    name: Annotated[Optional[str], typer.Option("--name", help="New full name.")] = None,
    credentials: Annotated[Optional[str], typer.Option("--credentials", "-c", help="e.g. LCSW; '' clears.")] = None,
    role: Annotated[Optional[StaffRole], typer.Option("--role")] = None,
    active: Annotated[Optional[bool], typer.Option("--active/--inactive", help="Still working here?")] = None,
    requires_cosign: Annotated[
        Optional[bool],
        typer.Option("--requires-cosign/--no-requires-cosign",
                     help="Their signed notes also need a supervisor's co-signature."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Change a staff member's name, credentials, role, active flag or co-signature requirement."""
    from iop_facilitator.services.staff import resolve_staff, signature_line, update_staff

    database = open_db(ctx)
    with database.begin() as session:
        person = resolve_staff(session, staff)
        person = update_staff(
            session, person.id, name=name, credentials=credentials, role=role, active=active,
            requires_cosign=requires_cosign,
        )
        data = record_dict(person)
    if as_json:
        print_json(data)
    else:
        extra = " (notes need a co-signature)" if person.requires_cosign else ""
        say(f"Updated {signature_line(person)} ({short(person.id)}): {person.role.value}"
            f"{'' if person.active else ', inactive'}{extra}")


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
        ["id", "name", "credentials", "role", "co-sign"],
        [[short(p.id), p.name, p.credentials, p.role.value, "needed" if p.requires_cosign else ""] for p in people],
        empty="No staff yet. Add one with: iop staff add 'Name' --credentials LCSW",
    )
