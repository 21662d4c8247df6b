"""Helpers shared by the command modules: the database, dates, tables and JSON.

Only light imports at module level; services and SQLModel are imported when a
command runs, so ``iop --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database


@dataclass
class CliState:
    db_target: str | None = None
    _db: Database | None = field(default=None, repr=False)

    def target(self) -> str:
        if self.db_target:
            return self.db_target
        from iop_facilitator.paths import default_db_path

        return str(default_db_path())


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def open_db(ctx: typer.Context, *, create: bool = False, encrypt: bool = False) -> Database:
    """The command's database (opened once, closed when the command ends).

    An encrypted file's passphrase comes from ``IOP_PASSPHRASE`` or a hidden prompt
    (never from the command line, where other users could read it).
    """
    st = state(ctx)
    if st._db is None:
        from iop_facilitator.cli.progress import UpgradeProgress
        from iop_facilitator.db.engine import open_database

        progress = UpgradeProgress()  # a schema upgrade on open shows its steps on a terminal
        try:
            st._db = open_database(
                st.target(), create=create, passphrase=ask_passphrase, encrypt=encrypt, progress=progress
            )
        finally:
            progress.stop()
        ctx.find_root().call_on_close(st._db.dispose)
    return st._db


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def ask_passphrase(new: bool = False, prompt: str = "Passphrase") -> str:
    """A hidden prompt on the terminal (twice for a new passphrase); refuses when stdin is no terminal."""
    from iop_facilitator.db.engine import PASSPHRASE_ENV, check_new_passphrase
    from iop_facilitator.errors import PassphraseRequired

    if not stdin_is_terminal():
        raise PassphraseRequired(
            f"the database is encrypted: set {PASSPHRASE_ENV} or run in a terminal to be asked for the passphrase"
        )
    if not new:
        return typer.prompt(prompt, hide_input=True, err=True)
    first = typer.prompt(f"New {prompt.lower()} (at least 12 characters)", hide_input=True, err=True)
    check_new_passphrase(first)
    again = typer.prompt(f"Repeat the new {prompt.lower()}", hide_input=True, err=True)
    if again != first:
        from iop_facilitator.errors import InvalidInput

        raise InvalidInput("the two passphrases differ; nothing was changed")
    return first


def parse_date(
    value: str | None, option: str = "date", *, ctx: typer.Context, utc: bool = False, create: bool = False
) -> dt.date | None:
    """YYYY-MM-DD (or 'today'/'yesterday') -> date; a bad value is a usage error (exit 2).

    'today' is the clinic's day (the program's timezone, read from the database, which is
    opened for it, with ``create`` for a command that may create it), or the UTC day for an
    option counted in UTC days (``utc``); never the machine's day.
    """
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("today", "yesterday"):
        from iop_facilitator.clock import local_today

        today = local_today("UTC") if utc else clinic_today(ctx, create=create)
        return today if text == "today" else today - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD)", param_hint=option) from None


def parse_date_range(
    ctx: typer.Context, since: str | None, until: str | None, *, utc: bool = False
) -> tuple[dt.date | None, dt.date | None]:
    """``--since`` and ``--until`` as dates (either may be missing); since after until is a usage error."""
    first, last = parse_date(since, "--since", ctx=ctx, utc=utc), parse_date(until, "--until", ctx=ctx, utc=utc)
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until", param_hint="--since")
    return first, last


def clinic_today(ctx: typer.Context, *, create: bool = False) -> dt.date:
    """Today in the program's timezone (opens the command's database)."""
    from iop_facilitator.services.settings import program_today

    with open_db(ctx, create=create).session() as session:
        return program_today(session)


def to_plain(value: Any) -> Any:
    import enum
    import uuid

    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def record_dict(model: Any, **extra: Any) -> dict[str, Any]:
    """A model as a JSON-ready dict keyed by its field names, plus ``extra``."""
    data = model.model_dump(mode="json")
    data.update(extra)
    return data


def print_json(rows: list[dict[str, Any]] | dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(rows, indent=2, default=to_plain, ensure_ascii=False) + "\n")


def print_table(title: str, columns: list[str], rows: list[list[Any]], *, empty: str = "nothing to show") -> None:
    """A rich table whose cells are plain text: user text is never markup or terminal control."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from iop_facilitator.services.text import clean_line

    console = Console()
    if not rows:
        console.print(Text(empty, style="dim"))
        return
    cells = [[clean_line("" if v is None else str(v)) for v in row] for row in rows]
    from rich import box

    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, name in enumerate(columns):
        widest = max(len(row[index]) for row in cells)
        # Short values (ids, dates, counts) never wrap; long text folds to fit the terminal.
        if widest <= 12:
            table.add_column(name, no_wrap=True, min_width=max(widest, min(len(name), 8)))
        else:
            table.add_column(name, overflow="fold", ratio=min(widest, 40), min_width=8)
    for row in cells:
        table.add_row(*(Text(v) for v in row))
    console.print(table)


def say(message: str) -> None:
    """A one-line confirmation on stdout (user text cleaned, no markup)."""
    from iop_facilitator.services.text import clean_line

    sys.stdout.write(clean_line(message) + "\n")


def short(ident: Any) -> str:
    return ident.hex[:8] if ident is not None else ""
