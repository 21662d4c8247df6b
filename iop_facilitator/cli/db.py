"""``iop db``: schema upgrades, integrity checks and backups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iop_facilitator.cli.common import open_db, say

app = typer.Typer(help="The database: upgrade, check, back up.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the database's schema up to this version (also done on every open)."""
    from iop_facilitator.db.migrate import head_revision

    database = open_db(ctx)
    if database.migrated_from is not None:
        say(f"Upgraded {database.display} from schema {database.migrated_from} to {head_revision()}")
    else:
        say(f"{database.display} is already at schema {head_revision()}")


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Run the database's integrity checks; exit 1 if anything is wrong."""
    from iop_facilitator.services.maintenance import integrity_problems

    database = open_db(ctx)
    problems = integrity_problems(database)
    if problems:
        for line in problems:
            typer.echo(f"iop: problem: {line}", err=True)
        raise typer.Exit(1)
    say(f"{database.display}: integrity check passed")


@app.command("backup")
def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a consistent copy of the database, safe while the app is running."""
    from iop_facilitator.services.maintenance import backup_to

    database = open_db(ctx)
    written = backup_to(database, path, force=force)
    say(f"Backed up {database.display} to {written}")
