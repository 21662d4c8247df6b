"""One background writer per open database: every change, in order, off the UI thread.

Screens hand :meth:`Store.submit` a function of a SQLModel ``Session``; the
store runs it in its own writer thread, commits, and calls back on the UI
thread. Changes run strictly in the order they were submitted (a status
key, then the next one), which parallel workers could not promise.
:meth:`Store.flush` waits until everything submitted is committed (used when
the terminal closes or the app quits).

If the database file is deleted or replaced while the app runs (``Database.check_file``,
run by every commit and by :meth:`Store.watch_file`), the store stops writing: every later
change fails at once with the same one-line message, reads go on from the old file, and
the writer copies everything saved so far to a rescue file
(``services.maintenance.rescue_copy``) and tells the app (``on_gone``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

    from iop_facilitator.db.engine import Database


def _GONE(_session: Any) -> None:  # noqa: N802 - a marker job: the database file is gone
    """Marker job (never called): make the rescue copy in the writer thread."""


@dataclass
class _Job:
    op: Callable[[Any], Any] | None  # None: stop the writer
    done: Callable[[Any], None] | None = None
    failed: Callable[[str], None] | None = None
    write: bool = True


class Store:
    def __init__(
        self, app: App, database: Database, *, on_gone: Callable[[str, str | None], None] | None = None
    ) -> None:
        self.app = app
        self.database = database
        self.gone = ""  # why nothing more is written (the database file was deleted or replaced)
        self._on_gone = on_gone
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()  # the UI thread's loop: callbacks go back to it
        # A plain daemon thread, not a Textual worker: it lives as long as the database is open,
        # and tests (and snapshot runs) wait for Textual's workers to complete.
        self._thread = threading.Thread(target=self._run, name="iop-database-writer", daemon=True)
        self._thread.start()

    # -- called from the UI thread ------------------------------------------
    def submit(
        self,
        op: Callable[[Any], Any],
        *,
        done: Callable[[Any], None] | None = None,
        failed: Callable[[str], None] | None = None,
        write: bool = True,
    ) -> None:
        """Run ``op(session)`` in the background; commit when ``write``; then ``done(result)`` on the UI thread."""
        self._queue(_Job(op, done, failed, write))

    def read(self, op: Callable[[Any], Any], done: Callable[[Any], None], failed: Callable[[str], None] | None = None) -> None:
        self.submit(op, done=done, failed=failed, write=False)

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every submitted job (and a rescue copy under way) has run. True when all were done in time."""
        return self._idle.wait(timeout)

    def watch_file(self) -> None:
        """Check that the database file is still the one opened (a few microseconds; the app calls it every few seconds)."""
        from iop_facilitator.errors import DatabaseGone

        if self.gone:
            return
        try:
            self.database.check_file()
        except DatabaseGone as exc:
            self.gone = str(exc)
            self._queue(_Job(_GONE))  # the writer makes the rescue copy (it owns the connections)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._jobs.put(_Job(None))
        self._thread.join(timeout)

    def _queue(self, job: _Job) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._jobs.put(job)

    # -- the writer thread ---------------------------------------------------
    def _run(self) -> None:
        from iop_facilitator.tui.messages import describe_problem

        while True:
            job = self._jobs.get()
            if job.op is None:
                return
            if job.op is _GONE:
                try:
                    self._rescue(self.gone)
                finally:
                    self._done_one()
                continue
            if job.write and self.gone:
                self._finish(job, problem=self.gone)
                continue
            try:
                if job.write:
                    with self.database.begin() as session:
                        result = job.op(session)
                else:
                    with self.database.session() as session:
                        result = job.op(session)
            except Exception as exc:  # noqa: BLE001 - reported to the user, the writer keeps going
                from iop_facilitator.errors import DatabaseGone

                problem = describe_problem(exc, writing=job.write)
                if isinstance(exc, DatabaseGone) and not self.gone:
                    self.gone = problem
                    self._rescue(problem)
                self._finish(job, problem=problem)
            else:
                self._finish(job, result=result)

    def _finish(self, job: _Job, *, result: Any = None, problem: str | None = None) -> None:
        try:
            if problem is not None:
                self._call(job.failed or self._notify_failure, problem)
            elif job.done is not None:
                self._call(job.done, result)
        finally:
            self._done_one()

    def _done_one(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    def _rescue(self, problem: str) -> None:
        """Copy what the old file holds to a rescue file, once, and tell the app."""
        if getattr(self, "_rescued", False):
            return
        self._rescued = True
        rescued: str | None = None
        try:
            from iop_facilitator.services.maintenance import rescue_copy

            rescued = str(rescue_copy(self.database))
        except Exception:  # noqa: BLE001 - the message below says no copy could be made
            rescued = None
        if self._on_gone is not None:
            self._call(lambda value: self._on_gone(problem, value), rescued)

    def _call(self, callback: Callable[[Any], None], value: Any) -> None:
        # Never block on the UI thread (it may itself be waiting in flush()).
        try:
            # call_next runs the callback from the app's own message loop (inside the app's context).
            self._loop.call_soon_threadsafe(self.app.call_next, callback, value)
        except RuntimeError:  # the loop is closed: the app has shut down
            pass

    def _notify_failure(self, problem: str) -> None:
        self.app.notify(problem, title="Not saved", severity="error", timeout=10, markup=False)
