"""Read the home screen's overview in a thread from the very start of the process.

Opening the app (``iop``) spends its first few hundred milliseconds importing Textual and
building the first frame, on one core; the machine usually has another. Started before
Textual is even imported, :class:`EarlyOverview` reads the overview from a plain SQLite file
(:func:`iop_facilitator.services.home.overview_from_sqlite_file`: Python's own ``sqlite3``,
read-only, at the current schema only, else None) in that time, so the home screen's first
frame can already show today's groups instead of a loading line.

This module imports only the standard library's ``os`` and ``threading``: the reading
thread imports what it needs, alongside the main thread's imports.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iop_facilitator.services.home import Overview


class EarlyOverview:
    """The overview of ``path``, being read in a daemon thread; :meth:`result` waits for it."""

    def __init__(self, path: str) -> None:
        self._done = threading.Event()
        self._value: Overview | None = None
        self._thread = threading.Thread(target=self._read, args=(path,), name="iop-home-early", daemon=True)
        self._thread.start()

    def _read(self, path: str) -> None:
        try:
            from iop_facilitator.services.home import overview_from_sqlite_file

            self._value = overview_from_sqlite_file(path)
        except Exception:  # noqa: BLE001 - an optimisation only: the app opens the database the usual way
            self._value = None
        finally:
            self._done.set()

    def ready(self) -> bool:
        """True once the read has ended (with an overview or with None)."""
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> Overview | None:
        """The overview; None when the file could not answer (or not within ``timeout``)."""
        self._done.wait(timeout)
        return self._value if self._done.is_set() else None


def read_overview_early(db_target: str) -> EarlyOverview | None:
    """Start reading ``db_target``'s overview now; None for a database URL (only files are read early)."""
    if "://" in db_target:
        return None
    return EarlyOverview(os.path.expanduser(db_target))
