"""The home screen: today's groups (one key starts one), unsigned meetings, follow-ups due.

Data flow ("attributes down, messages up"): the app sets :attr:`HomeScreen.database`
(or :attr:`HomeScreen.problem`); the screen reads
:func:`iop_facilitator.services.home.overview` through the app's background
store, so a reload always sees every change submitted before it (a meeting
just left, a follow-up just marked done). At start-up the app may hand it a
preview first (:meth:`HomeScreen.preview`, read by a worker straight from the
SQLite file before the database is fully open). No SQL runs on the UI thread,
and no ORM object outlives the store's session: the overview is plain values.

Keys: digits 1-9 start (or resume) the Nth group of today's list, Enter the
highlighted one (or opens the highlighted unsigned meeting); ``d`` marks the
highlighted follow-up done; ``m``, ``g``, ``s`` open the roster, the groups and
the settings. The screen reloads whenever it comes back to the top.

Everything read from the database is user text: it is cleaned with
:func:`~iop_facilitator.services.text.clean_line` and shown as plain
``rich.text.Text`` (never markup). Status is always written out in words
("in progress", "OVERDUE"), never shown by colour alone.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static

from iop_facilitator.services.text import clean_line
from iop_facilitator.tui import messages
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.widgets.footer import KeyFooter
from iop_facilitator.tui.widgets.header import AppHeader

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database
    from iop_facilitator.services.home import Overview

DEMO_MARKER = "DEMO — fictional data"
EMPTY_HINT = "No groups yet: press {key} to open Groups and add one."
NOTHING_TODAY = "No group meets today. Press {key} to see every group."
NOTHING_OPEN = "Nothing waiting for a signature, nothing in progress."
NO_FOLLOW_UPS = "No follow-ups due."
DIGITS = 9
FIRST_DATA_DELAY_S = 0.05
"""Start-up: the lists read before mount are shown this long after it, once the first frame is out."""

LoadState = Literal["waiting", "loading", "ready", "failed"]


def plain(value: object) -> Text:
    """A table cell or label for user text: control characters stripped, never markup."""
    return Text(clean_line(str(value)))


def day_text(day: dt.date | None, today: dt.date) -> str:
    """``Wed Mar 5`` (with the year when it is not this year's), or "today" / "tomorrow"."""
    if day is None:
        return "no date"
    if day == today:
        return "today"
    if day == today + dt.timedelta(days=1):
        return "tomorrow"
    if day == today - dt.timedelta(days=1):
        return "yesterday"
    text = f"{day:%a} {day:%b} {day.day}"
    return text if day.year == today.year else f"{text}, {day.year}"


def _read_overview(session: Any) -> Overview:
    from iop_facilitator.services.home import overview

    return overview(session)


class HomeScreen(Screen[None]):
    """Today at a glance, and the way into everything else."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "start", "Start", id="home.start", tooltip="Start session", priority=True),
        *[
            Binding(
                str(n), f"start_nth({n})", f"Start {n}", id=f"home.start_{n}",
                tooltip=f"Start session: today's group {n}", show=False,
            )
            for n in range(1, DIGITS + 1)
        ],
        Binding("d", "follow_up_done", "Mark done", id="home.follow_up_done",
                tooltip="Mark the highlighted follow-up done", show=False),  # its key is in the section title
        Binding("m", "roster", "Members", id="home.roster", tooltip="Members (roster)"),
        Binding("g", "groups", "Groups", id="home.groups", tooltip="Groups"),
        Binding("s", "settings", "Settings", id="home.settings", tooltip="Settings (theme, who you are, program)"),
        Binding("r", "refresh", "Refresh", id="home.refresh", tooltip="Refresh the home screen", show=False),
    ]

    database: reactive[Database | None] = reactive(None, init=False, always_update=True)
    """Set by the app once the database is open; setting it (re)loads the screen."""
    problem: reactive[str] = reactive("", init=False)
    """A one-line problem to show instead of the lists (set by the app or by a failed load)."""
    def __init__(self) -> None:
        super().__init__(id="home")
        self.load_state: LoadState = "waiting"
        self.data: Overview | None = None
        self._focused_once = False
        self._first: Overview | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()  # says DEMO (DEMO_MARKER, the app's sub-title) once, on every screen
        with Vertical(id="home-body"):
            yield Static("Opening the database…", id="status", markup=False)
            yield Static("Today", id="today-title", classes="section-title", markup=False)
            yield DataTable(id="today", cursor_type="row", zebra_stripes=True)
            yield Static("", id="today-empty", classes="empty-hint", markup=False)
            yield Static("Waiting for a signature / in progress", id="open-title", classes="section-title", markup=False)
            yield DataTable(id="open", cursor_type="row", zebra_stripes=True)
            yield Static(NOTHING_OPEN, id="open-empty", classes="empty-hint", markup=False)
            yield Static("Follow-ups due", id="follow-title", classes="section-title", markup=False)
            yield DataTable(id="follow-ups", cursor_type="row", zebra_stripes=True)
            yield Static(NO_FOLLOW_UPS, id="follow-empty", classes="empty-hint", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        today = self.query_one("#today", DataTable)
        today.add_column("Key", key="key")
        today.add_column("Time", key="time")
        today.add_column("Group", key="group")
        today.add_column("Enrolled", key="enrolled")
        today.add_column("Status", key="status")
        open_table = self.query_one("#open", DataTable)
        open_table.add_column("Group", key="group")
        open_table.add_column("Date", key="date")
        open_table.add_column("Status", key="status")
        open_table.add_column("Since it ended", key="age")
        follow = self.query_one("#follow-ups", DataTable)
        follow.add_column("Member", key="member")
        follow.add_column("Reason", key="reason")
        follow.add_column("Due", key="due")
        self._show_sections(False)
        today.focus()
        first, self._first = self._first, None
        if first is not None and not self.problem and self.database is None:
            # Just after the first frame, not in it: a long history's lists (dozens of rows in
            # three tables) cost the first frame a layout pass or two; painted next, they follow
            # within a frame or two while the first frame stays as quick as an empty database's.
            self.set_timer(FIRST_DATA_DELAY_S, partial(self.preview, first))
        if self.problem:
            self.watch_problem(self.problem)
        elif self.database is not None:
            self.watch_database(self.database)

    def on_screen_resume(self) -> None:
        """Back on top (a meeting, a roster edit, a setting): show what changed."""
        if self.database is not None and self.load_state != "failed":
            self.reload()

    # -- attributes down -------------------------------------------------
    def watch_database(self, database: Database | None) -> None:
        if database is not None and self.is_mounted:
            self.problem = ""
            self.reload()

    def watch_problem(self, problem: str) -> None:
        if not self.is_mounted:
            return
        status = self.query_one("#status", Static)
        status.set_class(bool(problem), "-problem")
        if not problem:
            if self.load_state == "failed":  # the app is trying again
                self.load_state = "waiting"
                status.update(Text("Opening the database…"))
            return
        self.load_state = "failed"
        quit_key = key_label(self, "app.quit", default="ctrl+q")
        retry_key = key_label(self, "home.refresh", default="r")
        status.update(Text(f"{clean_line(problem)}  (press {retry_key} to try again, {quit_key} to quit)"))
        status.display = True
        self._show_sections(False)

    def show_progress(self, text: str) -> None:
        """A line about what opening the database is doing (a schema upgrade), until the data shows."""
        if not self.is_mounted or self.problem or self.load_state == "ready":
            return
        status = self.query_one("#status", Static)
        status.update(Text(clean_line(text)))
        status.display = True

    # -- loading ---------------------------------------------------------
    def reload(self) -> None:
        store = getattr(self.app, "store", None)
        if self.database is None or store is None:
            return
        self.load_state = "loading"
        store.read(_read_overview, self._loaded, self._load_failed)

    def show_first(self, data: Overview) -> None:
        """Data read before the screen is mounted (the app's start-up read): shown right after its first frame."""
        self._first = data

    def preview(self, data: Overview) -> None:
        """Data read before the database finished opening (the app's start-up preview)."""
        if self.load_state != "ready" and not self.problem:
            self._loaded(data)

    def _loaded(self, data: Overview) -> None:
        from textual.css.query import NoMatches

        if not self.is_mounted:
            return
        try:
            self._show_data(data)
        except NoMatches:  # the app is closing and has already removed this screen's widgets
            return
        self.post_message(messages.ProgramLoaded(data.clinic_name, data.is_demo))

    def _show_data(self, data: Overview) -> None:
        self.data = data
        self.problem = ""
        self.query_one("#status", Static).display = False
        self._fill(data)
        self._show_sections(True)
        self.load_state = "ready"
        if not self._focused_once:
            self._focused_once = True
            for selector in ("#today", "#open", "#follow-ups"):
                table = self.query_one(selector, DataTable)
                if table.row_count:
                    table.focus()
                    break

    def _load_failed(self, problem: str) -> None:
        self.problem = problem

    def _fill(self, data: Overview) -> None:
        from iop_facilitator.services.home import describe_age, status_text

        today = self.query_one("#today", DataTable)
        with _keep_cursor(today):
            for index, row in enumerate(data.groups_today, start=1):
                today.add_row(
                    Text(str(index) if index <= DIGITS else "", justify="center"),
                    Text(f"{row.starts}–{row.ends}"),
                    plain(row.name),
                    Text(str(row.enrolled), justify="right"),
                    Text(status_text(row.status)),
                    key=str(row.group_id),
                )
        open_table = self.query_one("#open", DataTable)
        with _keep_cursor(open_table):
            for meeting in data.open_meetings:
                open_table.add_row(
                    plain(meeting.group_name),
                    Text(day_text(meeting.local_date, data.today)),
                    Text(status_text(meeting.status)),
                    Text(describe_age(meeting.hours_since_end)),
                    key=str(meeting.meeting_id),
                )
        follow = self.query_one("#follow-ups", DataTable)
        with _keep_cursor(follow):
            for item in data.follow_ups:
                due = day_text(item.due, data.today)
                follow.add_row(
                    plain(item.member),
                    plain(item.reason),
                    Text(f"{due} · OVERDUE" if item.overdue else due),
                    key=str(item.follow_up_id),
                )
        weekday = f"{data.today:%A}, {data.today:%B} {data.today.day}, {data.today.year}"
        self.query_one("#today-title", Static).update(Text(f"Today · {weekday} · {clean_line(data.timezone)}"))
        done_key = key_label(self, "home.follow_up_done", default="d")
        follow_title = "Follow-ups due"
        if data.follow_ups_due > len(data.follow_ups):
            follow_title += f"  ({len(data.follow_ups)} oldest of {data.follow_ups_due} shown)"
        if data.follow_ups:
            follow_title += f"  ({done_key}: mark the highlighted one done)"
        self.query_one("#follow-title", Static).update(Text(follow_title))
        groups_key = key_label(self, "home.groups", default="g")
        hint = EMPTY_HINT if not data.group_count else NOTHING_TODAY
        self.query_one("#today-empty", Static).update(Text(hint.format(key=groups_key)))

    def _show_sections(self, shown: bool) -> None:
        for selector in ("#today-title", "#open-title", "#follow-title"):
            self.query_one(selector).display = shown
        data = self.data if shown else None
        for table_id, empty_id, rows in (
            ("#today", "#today-empty", data.groups_today if data else ()),
            ("#open", "#open-empty", data.open_meetings if data else ()),
            ("#follow-ups", "#follow-empty", data.follow_ups if data else ()),
        ):
            self.query_one(table_id).display = shown and bool(rows)
            self.query_one(empty_id).display = shown and not rows

    # -- actions ---------------------------------------------------------
    def action_refresh(self) -> None:
        if self.database is None:
            if self.load_state == "failed":
                self.post_message(messages.ReopenDatabase())
        else:
            self.reload()

    def action_start(self) -> None:
        """Enter: start (or resume) the highlighted group of today, or open the highlighted unsigned meeting."""
        if self.data is None:
            self.notify("The database is not open yet.", markup=False)
            return
        focused = self.focused
        if isinstance(focused, DataTable) and focused.id == "open":
            self._open_highlighted()
        elif isinstance(focused, DataTable) and focused.id == "follow-ups":
            key = key_label(self, "home.follow_up_done", default="d")
            self.notify(f"Press {key} to mark the highlighted follow-up done.", markup=False)
        else:
            index = self._cursor_index(self.query_one("#today", DataTable))
            if index is None:
                self.notify("No group meets today.", markup=False)
            else:
                self._start(index)

    def action_start_nth(self, number: int) -> None:
        if self.data is None:
            self.notify("The database is not open yet.", markup=False)
            return
        if not 1 <= number <= len(self.data.groups_today):
            self.notify(f"Today's list has no group {number}.", markup=False)
            return
        self.query_one("#today", DataTable).move_cursor(row=number - 1)
        self._start(number - 1)

    def _start(self, index: int) -> None:
        from iop_facilitator.enums import MeetingStatus

        if self.data is None or not 0 <= index < len(self.data.groups_today):
            return
        row = self.data.groups_today[index]
        if row.status == MeetingStatus.signed.value and row.meeting_id is not None:
            self.app.open_meeting(row.meeting_id)  # type: ignore[attr-defined]
        else:
            self.app.start_meeting(row.group_id)  # type: ignore[attr-defined]

    def _open_highlighted(self) -> None:
        index = self._cursor_index(self.query_one("#open", DataTable))
        if self.data is not None and index is not None and index < len(self.data.open_meetings):
            self.app.open_meeting(self.data.open_meetings[index].meeting_id)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected, "#today")
    def _today_clicked(self, event: DataTable.RowSelected) -> None:
        self._start(event.cursor_row)

    @on(DataTable.RowSelected, "#open")
    def _open_clicked(self, event: DataTable.RowSelected) -> None:
        self._open_highlighted()

    def action_follow_up_done(self) -> None:
        table = self.query_one("#follow-ups", DataTable)
        store = getattr(self.app, "store", None)
        if self.data is None or not self.data.follow_ups:
            self.notify("No follow-ups due.", markup=False)
            return
        if store is None:
            when_ready = getattr(self.app, "when_store_ready", None)
            if when_ready is not None:
                when_ready(self.action_follow_up_done)
            return
        if self.focused is not table:
            table.focus()
            key = key_label(self, "home.follow_up_done", default="d")
            self.notify(f"Highlight the follow-up that is done, then press {key}.", markup=False)
            return
        index = self._cursor_index(table)
        if index is None or index >= len(self.data.follow_ups):
            return
        follow_up_id = self.data.follow_ups[index].follow_up_id

        def done(session: Any) -> None:
            from iop_facilitator.services.live import complete_follow_up

            complete_follow_up(session, follow_up_id)

        def saved(_result: object) -> None:
            self.notify("Follow-up marked done.", markup=False)
            self.reload()

        store.submit(done, done=saved)

    def _push(self, screen_type: type[Screen]) -> None:
        if getattr(self.app, "store", None) is None:
            # The data on screen may be the start-up preview: open it once the database is.
            when_ready = getattr(self.app, "when_store_ready", None)
            if when_ready is None or not when_ready(lambda: self._push(screen_type)):
                self.notify("The database is not open yet.", severity="warning", markup=False)
            return
        self.app.push_screen(screen_type())

    def action_roster(self) -> None:
        from iop_facilitator.tui.screens.roster import RosterScreen

        self._push(RosterScreen)

    def action_groups(self) -> None:
        from iop_facilitator.tui.screens.groups import GroupsScreen

        self._push(GroupsScreen)

    def action_settings(self) -> None:
        from iop_facilitator.tui.screens.settings import SettingsScreen

        self._push(SettingsScreen)

    @staticmethod
    def _cursor_index(table: DataTable) -> int | None:
        if not table.row_count:
            return None
        return min(max(table.cursor_row, 0), table.row_count - 1)


class _keep_cursor:
    """Refill a table and put the cursor back on the same row (by key) if it is still there."""

    def __init__(self, table: DataTable) -> None:
        self.table = table
        self.key: Any = None
        self.row = 0

    def __enter__(self) -> DataTable:
        table = self.table
        self.row = table.cursor_row
        if table.row_count:
            try:
                self.key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            except Exception:  # noqa: BLE001 - no valid cursor
                self.key = None
        table.clear()
        return table

    def __exit__(self, *exc: object) -> None:
        table = self.table
        if not table.row_count:
            return
        if self.key is not None and self.key in table.rows:
            table.move_cursor(row=table.get_row_index(self.key), animate=False)
        else:
            table.move_cursor(row=min(max(self.row, 0), table.row_count - 1), animate=False)
