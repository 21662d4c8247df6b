"""The home screen: the program's groups and what is waiting for a signature.

Data flow ("attributes down, messages up"): the app sets :attr:`HomeScreen.database`
(or :attr:`HomeScreen.problem`); the screen loads its rows in a thread worker,
which posts :class:`HomeScreen.Loaded` / :class:`HomeScreen.LoadFailed` back.
No SQL runs on the UI thread, and no ORM object outlives the worker's session.

Everything read from the database is user text: it is cleaned with
:func:`~iop_facilitator.services.text.clean_line` and shown as plain
``rich.text.Text`` (never markup).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from iop_facilitator.services.text import clean_line
from iop_facilitator.tui import messages

if TYPE_CHECKING:
    from iop_facilitator.db.engine import Database

DEMO_MARKER = "DEMO — fictional data"
EMPTY_HINT = "No groups yet: add one with `iop group add`"

LoadState = Literal["waiting", "loading", "ready", "failed"]


@dataclass(frozen=True)
class GroupRow:
    """One group as the home screen shows it (plain values, raw: cleaned when shown)."""

    key: str
    name: str
    group_type: str
    level_of_care: str
    audience: str
    schedule: str
    enrolled: int
    capacity: int
    status: str


@dataclass(frozen=True)
class HomeData:
    clinic_name: str
    is_demo: bool
    groups: tuple[GroupRow, ...]
    in_progress: int
    waiting_for_signature: int


def load_home_data(database: Database) -> HomeData:
    """Read everything the home screen shows. Runs in a worker thread; writes nothing."""
    from iop_facilitator.clock import local_today
    from iop_facilitator.enums import MeetingStatus
    from iop_facilitator.services import groups as group_service
    from iop_facilitator.services import meetings as meeting_service
    from iop_facilitator.services.settings import get_settings

    with database.session() as session:
        try:
            program = get_settings(session)  # may add a default row: rolled back below
            today = local_today(program.timezone)
            counts = group_service.enrolled_counts(session, today)
            rows = tuple(
                GroupRow(
                    key=str(group.id),
                    name=group.name,
                    group_type=str(group.group_type.value).replace("_", " "),
                    level_of_care=str(group.level_of_care.value),
                    audience=str(group.audience.value),
                    schedule=group_service.schedule_text(group),
                    enrolled=counts.get(group.id, 0),
                    capacity=group.capacity,
                    status=str(group.status.value),
                )
                for group in group_service.list_groups(session)
            )
            open_meetings = meeting_service.open_meetings(session)
            data = HomeData(
                clinic_name=program.clinic_name,
                is_demo=bool(program.is_demo),
                groups=rows,
                in_progress=sum(1 for m in open_meetings if m.status == MeetingStatus.in_progress),
                waiting_for_signature=sum(1 for m in open_meetings if m.status == MeetingStatus.completed),
            )
        finally:
            session.rollback()
    return data


def plain(value: object) -> Text:
    """A table cell or label for user text: control characters stripped, never markup."""
    return Text(clean_line(str(value)))


def group_details(row: GroupRow) -> str:
    return f"{row.group_type} · {row.level_of_care} · {row.audience}"


def group_cell(row: GroupRow) -> Text:
    """The group's name (bold), and below it its type, level of care and audience.

    No "dim" on the second line: it would fade text in the high-contrast theme.
    """
    return Text.assemble((clean_line(row.name), "bold"), "\n", clean_line(group_details(row)))


class HomeScreen(Screen[None]):
    """Groups at a glance. The full home screen (today's meetings, follow-ups) comes later."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="home.refresh", tooltip="Refresh groups"),
    ]

    database: reactive[Database | None] = reactive(None, init=False, always_update=True)
    """Set by the app once the database is open; setting it (re)loads the screen."""
    problem: reactive[str] = reactive("", init=False)
    """A one-line problem to show instead of the groups (set by the app or by a failed load)."""
    demo: reactive[bool] = reactive(False, init=False)
    """Show the demo marker (set by the app)."""

    class Loaded(Message):
        def __init__(self, data: HomeData) -> None:
            super().__init__()
            self.data = data

    class LoadFailed(Message):
        def __init__(self, problem: str) -> None:
            super().__init__()
            self.problem = problem

    def __init__(self, *, demo: bool = False) -> None:
        super().__init__(id="home")
        self.set_reactive(HomeScreen.demo, demo)
        self.load_state: LoadState = "waiting"
        self.data: HomeData | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        yield Static(DEMO_MARKER, id="demo-banner", markup=False)
        with Vertical(id="home-body"):
            yield Static("Opening the database…", id="status", markup=False)
            yield Static("Groups", id="groups-title", classes="section-title", markup=False)
            yield DataTable(id="groups", cursor_type="row", zebra_stripes=True)
            yield Static(EMPTY_HINT, id="empty-hint", markup=False)
            yield Static(
                "Waiting for signature / in progress",
                id="open-title",
                classes="section-title",
                markup=False,
            )
            yield Static("", id="open-meetings", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#groups", DataTable)
        # Two lines per group (name, then type · level · audience) so the table fits 100 columns.
        table.add_column("Group", key="group")
        table.add_column("Schedule", key="schedule")
        table.add_column("Enrolled", key="enrolled")
        table.add_column("Status", key="status")
        self._show_sections(False)
        self.query_one("#demo-banner").display = self.demo
        table.focus()
        if self.problem:
            self.watch_problem(self.problem)
        elif self.database is not None:
            self.watch_database(self.database)

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
        quit_key = self._key_for("app.quit", "ctrl+q")
        retry_key = self._key_for("home.refresh", "r")
        status.update(Text(f"{clean_line(problem)}  (press {retry_key} to try again, {quit_key} to quit)"))
        status.display = True
        self._show_sections(False)

    def watch_demo(self, demo: bool) -> None:
        if self.is_mounted:
            self.query_one("#demo-banner").display = demo

    # -- loading ---------------------------------------------------------
    def reload(self) -> None:
        if self.database is None:
            return
        self.load_state = "loading"
        self._load(self.database)

    @work(thread=True, exclusive=True, group="home-load", exit_on_error=False)
    def _load(self, database: Database) -> None:
        try:
            data = load_home_data(database)
        except Exception as exc:
            if os.environ.get("IOP_DEBUG") and not _is_known(exc):
                raise
            self.post_message(self.LoadFailed(messages.describe_problem(exc)))
            return
        self.post_message(self.Loaded(data))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.data = message.data
        self.problem = ""
        status = self.query_one("#status", Static)
        status.display = False
        self._fill_table(message.data)
        self._show_sections(True)
        self.load_state = "ready"
        self.post_message(messages.ProgramLoaded(message.data.clinic_name, message.data.is_demo))

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self.problem = message.problem

    def _fill_table(self, data: HomeData) -> None:
        table = self.query_one("#groups", DataTable)
        cursor_key = None
        if table.row_count:
            try:
                cursor_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            except Exception:  # noqa: BLE001 - no valid cursor
                cursor_key = None
        table.clear()
        for row in data.groups:
            table.add_row(
                group_cell(row),
                plain(row.schedule),
                Text(f"{row.enrolled}/{row.capacity}", justify="right"),
                plain(row.status),
                key=row.key,
                height=2,
            )
        if cursor_key is not None and cursor_key in table.rows:
            table.move_cursor(row=table.get_row_index(cursor_key))
        self.query_one("#empty-hint").display = not data.groups
        table.display = bool(data.groups)
        self.query_one("#open-meetings", Static).update(_open_meetings_text(data))

    def _show_sections(self, shown: bool) -> None:
        for selector in ("#groups-title", "#groups", "#empty-hint", "#open-title", "#open-meetings"):
            self.query_one(selector).display = shown
        if shown and self.data is not None:
            self.query_one("#empty-hint").display = not self.data.groups
            self.query_one("#groups").display = bool(self.data.groups)

    def _key_for(self, binding_id: str, default: str) -> str:
        for active in self.active_bindings.values():
            if active.binding.id == binding_id:
                return self.app.get_key_display(active.binding)
        return default

    # -- actions ---------------------------------------------------------
    def action_refresh(self) -> None:
        if self.database is None:
            if self.load_state == "failed":
                self.post_message(messages.ReopenDatabase())
        else:
            self.reload()


def _open_meetings_text(data: HomeData) -> Text:
    if not data.in_progress and not data.waiting_for_signature:
        return Text("Nothing waiting for a signature, nothing in progress.")
    return Text(
        f"{data.waiting_for_signature} waiting for signature · {data.in_progress} in progress"
    )


def _is_known(exc: BaseException) -> bool:
    from iop_facilitator.errors import IopError

    return isinstance(exc, IopError)
