"""What a storage failure means for the user, in one PHI-free line.

Driver errors (SQLite/SQLCipher result codes, PostgreSQL SQLSTATEs, ``OSError`` numbers)
are mapped to the :mod:`iop_facilitator.errors` types the screens and the CLI know:
:class:`~iop_facilitator.errors.StorageFull`, :class:`~iop_facilitator.errors.StorageReadOnly`,
:class:`~iop_facilitator.errors.DatabaseGone`, a :class:`~iop_facilitator.errors.Conflict`
for a write from an out-of-date snapshot, and a busy database. ``writing`` says whether the
failed work was a change (a failed save is never reported as "could not be read").

Standard library and :mod:`iop_facilitator.errors` only: the CLI's error path imports it.
"""

from __future__ import annotations

import errno

from iop_facilitator.errors import (
    Conflict,
    DatabaseGone,
    DatabaseProblem,
    IopError,
    StorageFull,
    StorageReadOnly,
)

FULL = "the disk is full"
READ_ONLY = "the database is read-only (the file, its folder or the server accepts no writes)"
STALE = "this record was changed by someone else meanwhile; reload it and try again"
BUSY = "the database is busy (another program is writing to it); try again in a moment"
UNREACHABLE = "the database server cannot be reached"
_UNREACHABLE_WORDS = ("server closed the connection", "connection refused", "could not connect",
                      "connection failed", "connection is closed", "terminating connection")


def _driver_error(exc: BaseException) -> BaseException:
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def storage_error(exc: BaseException, *, writing: bool | None = None) -> IopError | None:
    """The known storage failure ``exc`` stands for, or None (for the caller's own wording).

    ``writing``: True for a failed change, False for a failed read, None when unknown (the
    message then says neither).
    """
    if isinstance(exc, IopError):
        return exc
    cause = _driver_error(exc)
    name = str(getattr(cause, "sqlite_errorname", "") or "")
    sqlstate = str(getattr(cause, "sqlstate", "") or "")
    number = getattr(cause, "errno", None)
    first = (str(cause).strip().splitlines() or [""])[0].lower()
    if name == "SQLITE_FULL" or sqlstate == "53100" or number in (errno.ENOSPC, errno.EDQUOT) \
            or "database or disk is full" in first or "no space left" in first:
        outcome = {True: ": the change was not saved", False: ": the database could not be read", None: ""}[writing]
        return StorageFull(f"{FULL}{outcome}; free some space and try again")
    if name.startswith("SQLITE_READONLY") or sqlstate == "25006" or number == errno.EROFS \
            or "readonly database" in first or "read-only" in first:
        if name == "SQLITE_READONLY_DBMOVED":
            return DatabaseGone("the database file was moved or deleted while it was open; nothing more is written to it")
        return StorageReadOnly(f"{READ_ONLY}: the change was not saved" if writing is not False else READ_ONLY)
    if name == "SQLITE_BUSY_SNAPSHOT" or sqlstate in ("40001", "40P01"):
        return Conflict(STALE)
    if name.startswith("SQLITE_BUSY") or "database is locked" in first:
        return DatabaseProblem(BUSY)
    if sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03") \
            or getattr(exc, "connection_invalidated", False) or any(w in first for w in _UNREACHABLE_WORDS):
        outcome = {True: ": the change was not saved", False: ": nothing could be read", None: ""}[writing]
        return DatabaseProblem(f"{UNREACHABLE}{outcome}")
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in first:
        what = {True: "saving (nothing was changed)", False: "reading", None: "using the database"}[writing]
        return DatabaseProblem(f"the disk reported an error while {what}; is it full, removed or failing?")
    return None
