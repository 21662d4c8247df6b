"""The ``iop`` command line (Typer). Textual is imported only by the commands that open the TUI."""

from __future__ import annotations

import os
import sys


def tui_fast_path(args: list[str]) -> str | None:
    """The database target when the command line only opens the app (``iop``, ``iop --db X``).

    Opening the app is what a group leader does most, in front of the room: it skips
    building the Typer command tree (tens of milliseconds). Anything else returns None and
    goes through Typer as usual.
    """
    if not args:
        target = os.environ.get("IOP_DB", "")
    elif len(args) == 2 and args[0] == "--db":
        target = args[1]
    elif len(args) == 1 and args[0].startswith("--db="):
        target = args[0][len("--db=") :]
    else:
        return None
    if not target.strip():
        if args:
            return None  # an empty --db: let Typer report it
        from iop_facilitator.paths import default_db_path

        return str(default_db_path())
    return target


def main() -> None:
    target = tui_fast_path(sys.argv[1:])
    if target is not None:
        from iop_facilitator.tui.app import run

        raise SystemExit(run(target, demo=False))
    from iop_facilitator.cli.app import app

    app(prog_name="iop")
