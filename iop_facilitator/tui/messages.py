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


class ReopenDatabase(Message):
    """A screen asks the app to try opening the database again (e.g. after a fix)."""


class ProgramLoaded(Message):
    """Program-wide facts a screen read from the database, for the app's title and banner."""

    def __init__(self, clinic_name: str, is_demo: bool) -> None:
        super().__init__()
        self.clinic_name = clinic_name
        self.is_demo = is_demo


def describe_problem(exc: BaseException) -> str:
    """One line for the user about ``exc``: no traceback, no SQL, no parameters.

    Known failures (:class:`~iop_facilitator.errors.IopError`) carry their own
    message; database driver errors are reduced to their first line.
    """
    from iop_facilitator.errors import IopError
    from iop_facilitator.services.text import clean_line

    if isinstance(exc, IopError):
        return clean_line(str(exc)) or type(exc).__name__
    module = type(exc).__module__ or ""
    if module.startswith("sqlalchemy"):
        original = getattr(exc, "orig", None)
        detail = str(original if original is not None else exc).strip().splitlines()
        first = clean_line(detail[0]) if detail else ""
        return f"the database could not be read ({first or type(exc).__name__})"
    return f"unexpected error ({type(exc).__name__}); run with IOP_DEBUG=1 to see details"
