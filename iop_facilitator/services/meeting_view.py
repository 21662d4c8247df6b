"""Where a live meeting stood on screen: focused widget, cursors, the segment timer.

Reopening a meeting (after going home, quitting, or a crash) returns to the same
step, the same field, the same member under each step's cursor and the same
segment timer. This is screen state, not the clinical record: it is never part of
a signed meeting's hash and stays writable after signing (:class:`MeetingView`).

The timer is stored as the seconds banked on each segment plus, while it runs, the
wall-clock time (aware UTC) it started running: time keeps counting while the
program is closed, as the group does in the room.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from iop_facilitator.clock import utcnow
from iop_facilitator.errors import NotFound
from iop_facilitator.models import GroupMeeting, MeetingView

UNSET: Any = object()
MAX_SEGMENTS = 64


@dataclass(frozen=True)
class TimerState:
    """The topic's segment timer: ``topic`` identifies the guide (id and content hash)."""

    topic: str = ""
    index: int = 0
    elapsed: tuple[float, ...] = ()
    running_since: dt.datetime | None = None

    def banked(self, index: int) -> float:
        return self.elapsed[index] if 0 <= index < len(self.elapsed) else 0.0

    def seconds(self, index: int, now: dt.datetime | None = None) -> float:
        """Seconds spent on segment ``index``, counting the current run up to ``now``."""
        total = self.banked(index)
        if index == self.index and self.running_since is not None:
            total += max(0.0, ((now or utcnow()) - self.running_since).total_seconds())
        return total


@dataclass(frozen=True)
class ViewState:
    focus: str = ""
    cursors: dict[str, str] = field(default_factory=dict)
    timer: TimerState = field(default_factory=TimerState)


def load_view(session: Session, meeting_id: uuid.UUID) -> ViewState:
    row = session.exec(select(MeetingView).where(MeetingView.meeting_id == meeting_id)).first()
    if row is None:
        return ViewState()
    return ViewState(
        focus=row.focus or "",
        cursors={str(k): str(v) for k, v in (row.cursors or {}).items()},
        timer=TimerState(
            topic=row.segment_topic or "",
            index=row.segment_index or 0,
            elapsed=tuple(float(x) for x in (row.segment_elapsed or ())),
            running_since=row.segment_running_since,
        ),
    )


def save_view(
    session: Session,
    meeting_id: uuid.UUID,
    *,
    focus: str = UNSET,
    cursors: dict[str, str] = UNSET,
    timer: TimerState = UNSET,
) -> None:
    """Store what changed; ``cursors`` are merged into the stored ones (one entry per step)."""
    row = session.exec(select(MeetingView).where(MeetingView.meeting_id == meeting_id)).first()
    if row is None:
        if session.get(GroupMeeting, meeting_id) is None:
            raise NotFound("that meeting no longer exists")
        row = MeetingView(meeting_id=meeting_id)
    if focus is not UNSET:
        row.focus = str(focus)[:64]
    if cursors is not UNSET:
        merged = dict(row.cursors or {})
        merged.update({str(k)[:32]: str(v)[:64] for k, v in cursors.items()})
        row.cursors = merged
    if timer is not UNSET:
        row.segment_topic = timer.topic[:200]
        row.segment_index = max(0, int(timer.index))
        row.segment_elapsed = [round(max(0.0, float(x)), 3) for x in timer.elapsed[:MAX_SEGMENTS]]
        row.segment_running_since = timer.running_since
    row.updated_at = utcnow()
    session.add(row)
