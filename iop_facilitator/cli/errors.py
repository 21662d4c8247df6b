"""One place that turns failures into one line on stderr and exit code 1.

Known failures (:class:`IopError`, database errors) keep their message's first
line; anything unexpected prints only its type, because exception text may
hold health information. ``IOP_DEBUG=1`` shows the full traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup


def debug_enabled() -> bool:
    return os.environ.get("IOP_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def one_line(exc: BaseException) -> str | None:
    """The message to show for ``exc``, or None if it is not a failure we know."""
    from iop_facilitator.errors import IopError

    if isinstance(exc, IopError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    from iop_facilitator.db.failures import storage_error

    known = storage_error(exc)  # disk full, read-only, busy, stale snapshot, disk errors
    if known is not None:
        return str(known)
    module = type(exc).__module__
    if module.startswith("sqlalchemy"):
        name = type(exc).__name__
        if name == "StaleDataError":
            return "this record was changed by someone else meanwhile; reload it and try again"
        orig = getattr(exc, "orig", None)
        text = str(orig if orig is not None else exc).strip()
        first = text.splitlines()[0] if text else name
        if "iop-lock" in first:  # a lock trigger (db migration 0005): signed records and the audit log
            return "the database refused the change: " + first.split("iop-lock:", 1)[-1].strip()
        if name == "OperationalError":
            return f"database error: {first}"
        if name == "IntegrityError":
            return f"the database refused the change: {first}"
        return f"database error ({name}): {first}"
    if isinstance(exc, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        return f"{exc.strerror or type(exc).__name__}{where}"
    return None


def report(exc: BaseException) -> int:
    message = one_line(exc)
    if message is None:
        message = f"internal error ({type(exc).__name__}); run again with IOP_DEBUG=1 to see details"
    from iop_facilitator.services.text import clean_line

    print(f"iop: error: {clean_line(message)}", file=sys.stderr)
    return 1


class IopGroup(TyperGroup):
    """The root command group: maps every failure below it to one line and exit 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:  # the reader went away (``iop ... | head``): nothing to report
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the one place failures become messages
            if type(exc).__module__.startswith(("click", "typer")):
                raise  # usage errors: Typer prints them and exits 2
            if debug_enabled():
                raise
            raise typer.Exit(report(exc)) from None
