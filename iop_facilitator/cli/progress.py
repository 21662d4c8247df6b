"""A progress bar that only shows up when a command runs long enough to need one.

Exports and reports call the object with a running count. Nothing is imported
or drawn during the first second (``rich`` costs a noticeable slice of a fast
export's run time), and never when ``--quiet`` is given or stderr is not a
terminal. The bar is transient (it disappears when done) and goes to stderr,
so stdout keeps only the one-line summary.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, Self

from iop_facilitator import clock

DELAY_S = 1.0


class LazyProgress:
    """``with LazyProgress("Exporting attendance", quiet=q) as progress: progress(done)``."""

    def __init__(self, label: str, *, quiet: bool = False, total: int | None = None, unit: str = "rows"):
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = not quiet and _is_terminal()
        self._started = clock.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Self:
        self._started = clock.monotonic()
        return self

    def __call__(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        if total is not None:
            self.total = total
        if self._bar is None:
            if clock.monotonic() - self._started < DELAY_S:
                return
            self._start()
        self._bar.update(self._task, completed=done, total=self.total)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}" + (" of {task.total:,.0f}" if self.total else "") + f" {self.unit}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=self.total)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class UpgradeProgress:
    """Shows a schema upgrade on stderr, step by step (``db.migrate.Progress``).

    Upgrades are rare and may take minutes on a large clinic, so the display starts at once
    (unlike :class:`LazyProgress`). On a terminal: a rich bar naming the step running, "step n
    of m", the rows of a long data step as they are rewritten, and the elapsed time. Not on a
    terminal (a script, a log): one plain line per step. :meth:`stop` removes the bar (also
    called when the command ends).
    """

    def __init__(self, *, stream: Any = None) -> None:
        self.terminal = _is_terminal()
        self.stream = stream
        self._bar: Any = None
        self._task: Any = None
        self._said = -1

    def __call__(self, done: int, total: int, label: str, rows: tuple[int, int] | None = None) -> None:
        if not self.terminal:
            self._line(done, total, label)
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[where]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("", total=total, where="")
        step = min(done + 1, total)
        where = f"step {step} of {total}"
        completed: float = done
        if rows is not None and rows[1]:
            where += f", {rows[0]:,} of {rows[1]:,} rows"
            completed = done + min(rows[0] / rows[1], 1.0)
        self._bar.update(self._task, completed=completed, total=total, where=where,
                         description=f"Upgrading the database ({label}); please wait")
        if done >= total:
            self.stop()

    def _line(self, done: int, total: int, label: str) -> None:
        """One line per step (never for row progress): readable in a log."""
        if done == self._said or done >= total:
            if done >= total and self._said != done:
                self._said = done
                self._write(f"iop: database upgraded ({total} step{'s' if total != 1 else ''})")
            return
        self._said = done
        self._write(f"iop: upgrading the database, step {done + 1} of {total}: {label}")

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
