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


def demo_fast_path(args: list[str]) -> str | None:
    """The demo clinic's file when the command line is ``iop demo`` and that clinic is built.

    Like :func:`tui_fast_path`: no Typer tree, no SQLAlchemy before the first frame (the app
    opens the database itself, after it). Building the clinic (first use) goes through Typer.
    """
    if args != ["demo"]:
        return None
    from iop_facilitator.paths import demo_db_path

    path = demo_db_path()
    try:
        return str(path) if path.stat().st_size > 0 else None
    except OSError:
        return None


def end_process(code: int) -> None:
    """End the process once the app has ended, without the interpreter's teardown.

    Tearing down a process that imported Textual, SQLAlchemy, SQLModel and pydantic (freeing
    every module and object one by one) took most of a second, three times what quitting the
    app itself takes. Nothing of ours needs it: by now the app has saved everything, closed
    the store and disposed of the database (every commit is durable when it returns). The
    ``atexit`` functions still run and the standard streams are flushed; while a non-daemon
    thread is still running, the process ends the usual way, which waits for it.
    """
    import atexit
    import threading

    main_thread = threading.main_thread()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not main_thread):
        raise SystemExit(code)
    atexit._run_exitfuncs()  # noqa: SLF001 - what the interpreter's own exit would run first
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed terminal: nothing more can be said
            pass
    os._exit(code)


def main() -> None:
    args = sys.argv[1:]
    target = tui_fast_path(args)
    demo = target is None and (target := demo_fast_path(args)) is not None
    if target is not None:
        from iop_facilitator.services.home_early import read_overview_early

        early = read_overview_early(target)  # reads while Textual is imported (services/home_early.py)
        from iop_facilitator.tui.app import run

        end_process(run(target, demo=demo, early=early))
    from iop_facilitator.cli.app import app

    app(prog_name="iop")
