"""The root ``iop`` command: global options, ``init``, ``demo``, ``seed`` and the command groups."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from iop_facilitator import __version__
from iop_facilitator.cli.common import open_db, parse_date, say, state
from iop_facilitator.cli.lazy import LazyIopGroup

# The command groups (group, member, staff, meeting, settings, topics, db, export, report) and
# ``audit`` are listed in cli/lazy.py and imported only when used.
app = typer.Typer(
    cls=LazyIopGroup,
    name="iop",
    help="Lead and document Intensive Outpatient Program groups. Run without a command to open the app.",
    no_args_is_help=False,
    invoke_without_command=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        say(f"iop-facilitator {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option(
            "--db",
            envvar="IOP_DB",
            metavar="TARGET",
            help="SQLite file path or SQLAlchemy URL (postgresql+psycopg://user@host:port/db). "
            "Default: iop.db in your user data folder.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    state(ctx).db_target = db
    if ctx.invoked_subcommand is None:
        from iop_facilitator.tui.app import run

        raise typer.Exit(run(state(ctx).target(), demo=False))


@app.command()
def init(
    ctx: typer.Context,
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Create an encrypted (SQLCipher) database; asks for a new passphrase (or reads IOP_PASSPHRASE).",
        ),
    ] = False,
) -> None:
    """Create the database, or upgrade it to this version's schema (safe to run again)."""
    from iop_facilitator.paths import config_dir
    from iop_facilitator.services import audit
    from iop_facilitator.services.settings import get_settings

    database = open_db(ctx, create=True, encrypt=encrypt)
    with database.begin() as session:
        settings = get_settings(session)
        if database.created:
            audit.record(
                session, "db.init", record_type="program_settings", record_id=settings.id, encrypted=database.encrypted
            )
    if database.created:
        say(f"Created a new {'encrypted ' if database.encrypted else ''}database: {database.display}")
    elif database.migrated_from is not None:
        say(f"Upgraded the database from schema {database.migrated_from}: {database.display}")
    else:
        say(f"The database is ready and up to date: {database.display}")
    say(f"Settings and themes folder: {config_dir()}")


@app.command()
def demo(
    reset: Annotated[bool, typer.Option("--reset", help="Throw the demo database away and build it again.")] = False,
) -> None:
    """Open the app on a fictional demo clinic (a separate database; your real one is never touched)."""
    from iop_facilitator.db.engine import open_database
    from iop_facilitator.paths import demo_db_path

    path = demo_db_path()
    if reset:
        for suffix in ("", "-wal", "-shm"):
            candidate = path.with_name(path.name + suffix)
            if candidate.exists():
                candidate.unlink()
    if not path.exists() or path.stat().st_size == 0:
        from iop_facilitator.demo.clinic import seed_clinic

        say("Building the fictional demo clinic (first use only)...")
        database = open_database(path, create=True)
        try:
            seed_clinic(database, groups=4, weeks=12, members_per_group=10, seed=2026)
        finally:
            database.dispose()
    from iop_facilitator.tui.app import run

    raise typer.Exit(run(str(path), demo=True, create=False))


@app.command()
def seed(
    ctx: typer.Context,
    groups_: Annotated[int, typer.Option("--groups", min=1, max=1000, help="How many groups.")] = 4,
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=2000, help="How many weeks of history.")] = 12,
    members_per_group: Annotated[
        int, typer.Option("--members-per-group", min=1, max=30, help="Members enrolled in each group at a time.")
    ] = 10,
    seed_: Annotated[int, typer.Option("--seed", help="Random seed: the same seed and end give the same clinic.")] = 1,
    end: Annotated[
        Optional[str], typer.Option("--end", metavar="YYYY-MM-DD", help="The seed's today: history ends the day before (default: today).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Fill a database with a fictional clinic for trials and benchmarks (refuses real data)."""
    from iop_facilitator.demo.clinic import seed_clinic

    end_date = parse_date(end, "--end", ctx=ctx, create=True)
    database = open_db(ctx, create=True)
    if quiet:
        summary = seed_clinic(
            database, groups=groups_, weeks=weeks, members_per_group=members_per_group, seed=seed_, end=end_date
        )
    else:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("Seeding", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = seed_clinic(
                database,
                groups=groups_,
                weeks=weeks,
                members_per_group=members_per_group,
                seed=seed_,
                end=end_date,
                progress=progress,
            )
    say(
        f"Seeded a fictional clinic in {database.display}: {summary.groups} groups, {summary.members} members, "
        f"{summary.meetings} meetings, {summary.attendance} attendance rows, "
        f"{summary.progress_notes} progress notes."
    )
