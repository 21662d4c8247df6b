"""Messages shared between the app and its screens ("attributes down, messages up").

Workers run in threads and post these; handlers run on the UI thread. Messages
carry plain values (or the open :class:`~iop_facilitator.db.engine.Database`),
never live ORM objects bound to a session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # keep SQLAlchemy out of the first frame
    from iop_facilitator.db.engine import Database
    from iop_facilitator.services.home import Overview


class DatabaseReady(Message):
    """The database opened (and was migrated if needed)."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database


class HomePreview(Message):
    """The home screen's data, read straight from a plain SQLite file before the database opens.

    ``overview`` is None when there is no preview (not a plain, current SQLite file).
    """

    def __init__(self, overview: Overview | None) -> None:
        super().__init__()
        self.overview = overview


class DatabaseFailed(Message):
    """The database could not be opened or read; ``problem`` is one line for the user."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


class UpgradeProgress(Message):
    """A schema upgrade at start-up: ``done`` of ``total`` steps, ``label`` describes the one running;
    ``rows`` (done, in all) while a step rewrites many rows."""

    def __init__(self, done: int, total: int, label: str, rows: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.done = done
        self.total = total
        self.label = label
        self.rows = rows

    def text(self) -> str:
        """What the opening screen says."""
        step = min(self.done + 1, self.total)
        rows = f", {self.rows[0]:,} of {self.rows[1]:,} rows" if self.rows and self.rows[1] else ""
        return (
            f"Upgrading the database to this version: step {step} of {self.total} ({self.label}{rows}). "
            "Please keep the app open; nothing is lost if it is closed."
        )


class ReopenDatabase(Message):
    """A screen asks the app to try opening the database again (e.g. after a fix)."""


class ProgramLoaded(Message):
    """Program-wide facts a screen read from the database, for the app's title and banner."""

    def __init__(self, clinic_name: str, is_demo: bool) -> None:
        super().__init__()
        self.clinic_name = clinic_name
        self.is_demo = is_demo


def describe_problem(exc: BaseException, *, writing: bool | None = None) -> str:
    """One line for the user about ``exc``: no traceback, no SQL, no parameters.

    Known failures (:class:`~iop_facilitator.errors.IopError`) carry their own message;
    storage failures (disk full, read-only, busy, a stale write) are named by
    ``db.failures.storage_error``; other database errors are reduced to their first line.
    ``writing`` is True for a failed change (never reported as "could not be read"),
    False for a failed read, None when unknown.
    """
    from iop_facilitator.db.failures import storage_error
    from iop_facilitator.errors import IopError
    from iop_facilitator.services.text import clean_line

    if isinstance(exc, IopError):
        return clean_line(str(exc)) or type(exc).__name__
    known = storage_error(exc, writing=writing)
    if known is not None:
        return clean_line(str(known))
    module = type(exc).__module__ or ""
    if module.startswith("sqlalchemy"):
        if type(exc).__name__ == "StaleDataError":
            from iop_facilitator.db.failures import STALE

            return STALE
        original = getattr(exc, "orig", None)
        detail = str(original if original is not None else exc).strip().splitlines()
        first = clean_line(detail[0]) if detail else ""
        if "iop-lock" in first:
            return "the database refused the change: " + first.split("iop-lock:", 1)[-1].strip()
        what = {True: "the change was not saved", False: "the database could not be read",
                None: "database error"}[writing]
        return f"{what} ({first or type(exc).__name__})"
    return f"unexpected error ({type(exc).__name__}); run with IOP_DEBUG=1 to see details"
