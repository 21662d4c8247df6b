"""One background writer per open database: every change, in order, off the UI thread.

Screens hand :meth:`Store.submit` a function of a SQLModel ``Session``; the
store runs it in its own writer thread, commits, and calls back on the UI
thread. Changes run strictly in the order they were submitted (a status
key, then the next one), which parallel workers could not promise.
:meth:`Store.flush` waits until everything submitted is committed (used when
the terminal closes or the app quits).

Nothing typed is lost when a save fails:

* **A passing fault** (a full disk, a database that refuses writes for now, one locked
  by another program for too long, a disk error, a database server that cannot be
  reached) holds the change: it stays in the store with every change submitted after it,
  in order, and the writer tries again with a growing pause (:data:`RETRY_DELAYS`) until
  it commits. Reads go on meanwhile. The change's ``held`` callback is told once (the
  screen marks its text "not saved yet"); ``done`` is called when it is finally saved.
  The app hears of the trouble and of its end through ``on_trouble`` (one line in the
  leader's words, "" when everything is saved again).
* **A lasting fault** (the database file deleted or replaced, a database opened
  read-only) stops writing: every change fails with one line, and the text of the
  changes that carry one (``keep``) is kept in :meth:`Store.unsaved` so the app can
  offer a rescue file when it quits.
* **A stale edit** (:class:`~iop_facilitator.errors.EditConflict`) goes to the
  change's ``conflict`` callback with both texts, never to a toast.

If the database file is deleted or replaced while the app runs (``Database.check_file``,
run by every commit and by :meth:`Store.watch_file`), the writer also copies everything
saved so far to a rescue file (``services.maintenance.rescue_copy``) and tells the app
(``on_gone``).
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iop_facilitator import clock

if TYPE_CHECKING:
    from textual.app import App

    from iop_facilitator.db.engine import Database

#: Pauses (seconds) between tries of a held change; the last one repeats.
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def _GONE(_session: Any) -> None:  # noqa: N802 - a marker job: the database file is gone
    """Marker job (never called): make the rescue copy in the writer thread."""


def _RETRY(_session: Any) -> None:  # noqa: N802 - a marker job: try the held changes now
    """Marker job (never called): try the held changes at once."""


@dataclass(frozen=True)
class Kept:
    """Typed text a change carries, for the "not saved yet" messages and the rescue file.

    ``key`` names the field (a later change of the same key supersedes this one), ``label``
    says in words where the text belongs ("Story note · Avery T. · Evening IOP 2026-05-04"),
    ``what`` is the short noun the messages use ("story note").
    """

    key: str
    label: str
    text: str
    what: str = "note"


@dataclass
class _Job:
    op: Callable[[Any], Any] | None  # None: stop the writer
    done: Callable[[Any], None] | None = None
    failed: Callable[[str], None] | None = None
    write: bool = True
    conflict: Callable[[Any], None] | None = None
    held: Callable[[str], None] | None = None
    keep: Kept | None = None
    told_held: bool = False
    then: Callable[[Any], Any] | None = None  # a read right after the commit (see Store.submit)


def leader_words(exc: BaseException, what: str = "changes") -> str | None:
    """What a passing storage fault means, in the leader's words; None when it is not a passing fault.

    ``what`` names what waits ("story note", "changes").
    """
    from iop_facilitator.db.failures import BUSY, FULL, STALE, storage_error
    from iop_facilitator.errors import Conflict, DatabaseGone, DatabaseProblem, EditConflict, StorageFull, \
        StorageReadOnly

    known = storage_error(exc, writing=True)
    is_are = "are" if what.endswith("s") and not what.endswith("ss") else "is"
    kept = f"your {what} {is_are} kept here"
    if known is None or isinstance(known, (DatabaseGone, EditConflict)):
        return None
    if isinstance(known, StorageFull):
        return f"{FULL.removeprefix('the ')}: {kept} and will be saved when space is free"
    if isinstance(known, StorageReadOnly):
        if "is open read-only" in str(known):
            return None  # opened read-only: nothing will ever be written in this session
        return f"the database accepts no writes just now (read-only): {kept} and will be saved when it does"
    if isinstance(known, Conflict):
        if str(known) != STALE:
            return None  # a service's refusal (a chart id already in use...): said at once, never retried
        return f"another program wrote at the same moment: {kept} and is being saved again"
    if isinstance(known, DatabaseProblem):
        message = str(known)
        if message == BUSY:
            return f"the database is busy (another program is writing to it): {kept} and will be saved in a moment"
        if "cannot be reached" in message:
            return f"the database server cannot be reached: {kept} and will be saved when it is back"
        if "disk reported an error" in message:
            return f"the disk reported an error: {kept}; saving is tried again"
    return None


def stopped_words(problem: str, what: str = "changes") -> str:
    """A lasting fault (the file gone, a read-only database): what happens to the text, in words."""
    is_are = "are" if what.endswith("s") and not what.endswith("ss") else "is"
    return (f"{problem}: your {what} {is_are} kept on screen but cannot be saved; "
            "on quitting they can be copied to a rescue file")


class Store:
    def __init__(
        self, app: App, database: Database, *, on_gone: Callable[[str, str | None], None] | None = None,
        on_trouble: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.database = database
        self.gone = ""  # why nothing more is written (the database file was deleted or replaced)
        #: The passing fault holding changes back, in the leader's words ("" when all is well).
        self.trouble = ""
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self._on_gone = on_gone
        self._on_trouble = on_trouble
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._held: collections.deque[_Job] = collections.deque()  # writer thread only (read under _lock)
        self._tries = 0
        self._retry_at = 0.0
        self._fault: BaseException | None = None  # the passing fault holding changes back (writer thread)
        self._kept: dict[str, Kept] = {}  # text of changes that failed for good (under _lock)
        self._shown: dict[str, Kept] = {}  # text the screens hold unsaved (conflicts...), under _lock
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
        conflict: Callable[[Any], None] | None = None,
        held: Callable[[str], None] | None = None,
        keep: Kept | None = None,
        then: Callable[[Any], Any] | None = None,
    ) -> None:
        """Run ``op(session)`` in the background; commit when ``write``; then ``done(result)`` on the UI thread.

        ``failed(problem)`` gets a one-line problem instead of a toast; ``conflict(exc)`` an
        :class:`~iop_facilitator.errors.EditConflict`; ``held(problem)`` is told once when a
        passing fault holds the change back (it is saved later, then ``done`` runs); ``keep``
        is the text the change carries, offered for rescue if it can never be saved.

        ``then(session)`` reads what the change changed, in the writer thread right after the
        commit (so the commit is not held up by it, and nothing else is written in between):
        ``done`` then gets ``(result, what_then_read)``, with None when that read failed.
        """
        with self._lock:
            self._pending += 1
            self._idle.clear()
            if keep is not None:
                self._kept.pop(keep.key, None)  # this change supersedes an earlier failure of the field
        self._jobs.put(_Job(op, done, failed, write, conflict, held, keep, then=then))

    def read(self, op: Callable[[Any], Any], done: Callable[[Any], None], failed: Callable[[str], None] | None = None) -> None:
        self.submit(op, done=done, failed=failed, write=False)

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every submitted job (and a rescue copy under way) has run. True when all were done in time."""
        return self._idle.wait(timeout)

    def retry_now(self) -> None:
        """Try the held changes at once (e.g. the leader freed some space)."""
        self._jobs.put(_Job(_RETRY, write=False))

    def hold_text(self, kept: Kept) -> None:
        """Text a screen holds unsaved outside the store (an open conflict): offered for rescue on quit."""
        with self._lock:
            self._shown[kept.key] = kept

    def release_text(self, key: str) -> None:
        with self._lock:
            self._shown.pop(key, None)
            self._kept.pop(key, None)

    def unsaved(self) -> list[Kept]:
        """Every typed text not in the database: held back, waiting in line, failed for good, or held by a screen."""
        with self._jobs.mutex:
            queued = [job for job in self._jobs.queue if job.keep is not None and job.write]
        with self._lock:
            found: dict[str, Kept] = dict(self._kept)
            for job in [*self._held, *queued]:
                if job.keep is not None:
                    found[job.keep.key] = job.keep  # the later change of a field holds its latest text
            found.update(self._shown)
            return list(found.values())

    @property
    def held_count(self) -> int:
        with self._lock:
            return len(self._held)

    @property
    def held_without_text(self) -> int:
        """Held changes that carry no typed text (a status key, a rating): counted, not rescued."""
        with self._lock:
            return sum(1 for job in self._held if job.keep is None)

    def watch_file(self) -> None:
        """Check that the database file is still the one opened (a few microseconds; the app calls it every few seconds)."""
        from iop_facilitator.errors import DatabaseGone

        if self.gone:
            return
        try:
            self.database.check_file()
        except DatabaseGone as exc:
            self.gone = str(exc)
            with self._lock:  # counted, so flush() also waits for the rescue copy
                self._pending += 1
                self._idle.clear()
            self._jobs.put(_Job(_GONE))  # the writer makes the rescue copy (it owns the connections)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._jobs.put(_Job(None))
        self._thread.join(timeout)

    # -- the writer thread ---------------------------------------------------
    def _run(self) -> None:
        while True:
            timeout = max(0.0, self._retry_at - clock.monotonic()) if self._held else None
            try:
                job = self._jobs.get(timeout=timeout)
            except queue.Empty:
                self._retry_held()
                continue
            if job.op is None:
                self._give_up_held("the app closed before these changes could be saved")
                return
            if job.op is _GONE:
                try:
                    self._rescue(self.gone)
                    self._give_up_held(self.gone)
                finally:
                    self._finish(job)
                continue
            if job.op is _RETRY:
                if self._held:
                    self._retry_held()
                continue
            if job.write and self._held:
                self._hold(job)  # after the held ones, in order
                continue
            self._execute(job)

    def _attempt(self, job: _Job) -> tuple[str, Any]:
        """Run one job once: ("done", result), ("conflict", exc), ("held", exc) or ("failed", problem)."""
        from iop_facilitator.errors import DatabaseGone, EditConflict
        from iop_facilitator.tui.messages import describe_problem

        if job.write and self.gone:
            return "failed", self.gone
        try:
            if job.write:
                with self.database.begin() as session:
                    result = job.op(session)  # type: ignore[misc]
                if job.then is not None:
                    result = (result, self._read_after(job.then))
            else:
                with self.database.session() as session:
                    result = job.op(session)  # type: ignore[misc]
        except EditConflict as exc:
            if job.conflict is not None:
                return "conflict", exc
            return "failed", describe_problem(exc, writing=True)
        except Exception as exc:  # noqa: BLE001 - reported to the user, the writer keeps going
            if job.write and leader_words(exc) is not None:
                return "held", exc
            problem = describe_problem(exc, writing=job.write)
            if isinstance(exc, DatabaseGone) and not self.gone:
                self.gone = problem
                self._rescue(problem)
            return "failed", problem
        return "done", result

    def _read_after(self, read: Callable[[Any], Any]) -> Any:
        """A job's ``then``: its change is committed, so a failed read is no failed change (None)."""
        try:
            with self.database.session() as session:
                return read(session)
        except Exception:  # noqa: BLE001 - the caller reads everything again instead
            return None

    def _execute(self, job: _Job) -> None:
        """Run a job nothing is held before: finish it, or start holding with it."""
        outcome, value = self._attempt(job)
        if outcome != "held":
            self._settle(job, outcome, value)
            return
        with self._lock:
            self._held.append(job)
        self._tries = 0
        self._fault = value
        self._wait_more(value)
        self._tell_held(job)

    def _settle(self, job: _Job, outcome: str, value: Any) -> None:
        if outcome == "done":
            self._deliver(job, job.done, value)
        elif outcome == "conflict":
            self._deliver(job, job.conflict, value)
        else:
            self._fail(job, value)

    def _wait_more(self, exc: BaseException) -> None:
        self._tries += 1
        delays = self.retry_delays or (1.0,)
        self._retry_at = clock.monotonic() + delays[min(self._tries - 1, len(delays) - 1)]
        self._fault = exc
        self._set_trouble(self._words())

    def _words(self) -> str:
        """The passing fault, and what it holds back, in the leader's words."""
        with self._lock:
            kinds = list(dict.fromkeys(job.keep.what for job in self._held if job.keep is not None))
        what = kinds[0] if len(kinds) == 1 else "notes" if kinds else "changes"
        return leader_words(self._fault, what) or "" if self._fault is not None else ""

    def _hold(self, job: _Job) -> None:
        with self._lock:
            self._held.append(job)
        self._set_trouble(self._words())
        self._tell_held(job)

    def _tell_held(self, job: _Job) -> None:
        if not job.told_held and job.held is not None:
            job.told_held = True
            what = job.keep.what if job.keep is not None else "changes"
            self._call(job.held, leader_words(self._fault, what) or self.trouble if self._fault is not None
                       else self.trouble)

    def _retry_held(self) -> None:
        """Try the held changes in order; stop at the first that is still held back."""
        while self._held:
            job = self._held[0]
            outcome, value = self._attempt(job)
            if outcome == "held":
                self._wait_more(value)
                return
            with self._lock:
                self._held.popleft()
            self._settle(job, outcome, value)
            if self.gone:
                self._give_up_held(self.gone)
        self._fault = None
        self._set_trouble("")

    def _give_up_held(self, problem: str) -> None:
        """A lasting fault: every held change fails (its text is kept for the rescue file)."""
        while self._held:
            with self._lock:
                job = self._held.popleft()
            self._fail(job, problem)
        self._fault = None
        self._set_trouble("")

    def _set_trouble(self, words: str) -> None:
        if words == self.trouble:
            return
        self.trouble = words
        if self._on_trouble is not None:
            self._call(self._on_trouble, words)

    def _fail(self, job: _Job, problem: str) -> None:
        if job.keep is not None and job.write:
            with self._lock:
                self._kept[job.keep.key] = job.keep
        self._deliver(job, job.failed or self._notify_failure, problem)

    def _deliver(self, job: _Job, callback: Callable[[Any], None] | None, value: Any) -> None:
        try:
            if job.keep is not None and callback is job.done:
                with self._lock:
                    self._kept.pop(job.keep.key, None)
            if callback is not None:
                self._call(callback, value)
        finally:
            self._finish(job)

    def _finish(self, job: _Job) -> None:
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
