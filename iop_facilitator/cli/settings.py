"""``iop settings``: the program's configuration (clinic, timezone, crisis resources, policy, codes)."""

from __future__ import annotations

from typing import Annotated

import typer

from iop_facilitator.cli.common import open_db, print_json, print_table, say

app = typer.Typer(help="Program settings: clinic name, timezone, crisis resources, notice, policy, codes.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the program settings."""
    import json

    from iop_facilitator.services.settings import EDITABLE, get_settings

    database = open_db(ctx)
    with database.begin() as session:
        current = get_settings(session)
        data = current.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    print_table(
        "Program settings",
        ["setting", "value"],
        [[key, data[key] if isinstance(data[key], str) else json.dumps(data[key])] for key in EDITABLE],
    )


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Setting name (see: iop settings show).")],
    value: Annotated[str, typer.Argument(help="New value; JSON for lists and tables (crisis_resources, service_codes).")],
) -> None:
    """Change one program setting (recorded in the audit log)."""
    from iop_facilitator.services.settings import parse_value, update_settings

    parsed = parse_value(key, value)
    database = open_db(ctx)
    with database.begin() as session:
        update_settings(session, **{key: parsed})
    say(f"Updated {key}")
