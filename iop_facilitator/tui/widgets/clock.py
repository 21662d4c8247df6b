"""The meeting clock: elapsed time against the schedule, and the topic segment's time left."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from iop_facilitator.services.text import clean_line
from iop_facilitator.tui import timers


def _mmss(seconds: float) -> str:
    seconds = int(abs(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class MeetingClock(Static):
    """Shows ``elapsed 0:42:10 of 3:00:00`` and ``Didactic 07:12 left``; refreshed every second."""

    started: reactive[dt.datetime | None] = reactive(None)
    scheduled_minutes: reactive[int] = reactive(0)
    ended: reactive[dt.datetime | None] = reactive(None)
    segment: reactive[str] = reactive("")
    segment_left: reactive[float | None] = reactive(None)

    def on_mount(self) -> None:
        timers.set_interval(self, 1.0, self.refresh_clock)
        self.refresh_clock()

    def render_text(self, now: dt.datetime) -> Text:
        parts: list[str] = []
        if self.started is None:
            parts.append("not started")
        else:
            end = self.ended or now
            elapsed = max(0.0, (end - self.started).total_seconds())
            total = self.scheduled_minutes * 60
            over = elapsed - total
            clock = f"elapsed {_mmss(elapsed)} of {_mmss(total)}"
            if total and over > 0:
                clock += f" (+{_mmss(over)} over)"
            if self.ended is not None:
                clock += " · ended"
            parts.append(clock)
        if self.segment:
            left = self.segment_left
            if left is None:
                parts.append(clean_line(self.segment))
            elif left >= 0:
                parts.append(f"{clean_line(self.segment)} {_mmss(left)} left")
            else:
                parts.append(f"{clean_line(self.segment)} {_mmss(left)} over")
        return Text("  ·  ".join(parts))

    _shown_width = -1

    def refresh_clock(self) -> None:
        from iop_facilitator.clock import utcnow

        text = self.render_text(utcnow())
        # The clock is as wide as its text: lay the screen out again only when that changes,
        # not every second (a layout pass re-renders the whole meeting screen).
        width = text.cell_len
        self.update(text, layout=width != self._shown_width)
        self._shown_width = width

    def watch_segment(self) -> None:
        if self.is_mounted:
            self.refresh_clock()

    def watch_segment_left(self) -> None:
        if self.is_mounted:
            self.refresh_clock()

    def watch_started(self) -> None:
        if self.is_mounted:
            self.refresh_clock()

    def watch_ended(self) -> None:
        if self.is_mounted:
            self.refresh_clock()

    def watch_scheduled_minutes(self) -> None:
        if self.is_mounted:
            self.refresh_clock()
