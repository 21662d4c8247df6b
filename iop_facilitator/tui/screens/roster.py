"""The roster: every member, and the forms to add, edit, enroll, exit and set goals.

Data comes from :func:`iop_facilitator.services.members.member_summaries`
through the app's background store (plain values); every change is a service
call submitted to the store from a :class:`~iop_facilitator.tui.screens.forms.FormScreen`,
whose problems (a full surname, a chart id already in use, a full group) are
shown inside the form. User text is cleaned and shown as plain ``Text``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from iop_facilitator.enums import ExitReason, MemberStatus
from iop_facilitator.errors import InvalidInput
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.screens.forms import ADMIN_CSS, Field, FormScreen, parse_date
from iop_facilitator.tui.widgets.footer import KeyFooter
from iop_facilitator.tui.widgets.header import AppHeader

DISCHARGE = "__discharge__"


@dataclass(frozen=True)
class RosterData:
    today: dt.date
    max_absences: int
    window_weeks: int
    members: tuple[Any, ...]  # MemberSummary
    groups: tuple[tuple[uuid.UUID, str], ...]  # active groups (id, name), by name


def words(value: str) -> str:
    return value.replace("_", " ")


class RosterScreen(Screen[None]):
    """Members of the program: who they are, where they are enrolled, their goals."""

    CSS_PATH = ADMIN_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Home", id="roster.back", tooltip="Back to the home screen"),
        Binding("a", "add", "Add", id="roster.add", tooltip="Add a member"),
        Binding("e", "edit", "Edit", id="roster.edit", tooltip="Edit the member's display name or chart id"),
        Binding("n", "enroll", "Enroll", id="roster.enroll", tooltip="Enroll the member in a group"),
        Binding("x", "exit", "Exit/discharge", id="roster.exit", tooltip="Exit the member from a group, or discharge"),
        Binding("t", "goals", "Goals", id="roster.goals", tooltip="Edit the member's treatment-plan goals"),
        Binding("f", "toggle_discharged", "Discharged", id="roster.discharged",
                tooltip="Show or hide discharged members"),
        Binding("r", "refresh", "Refresh", id="roster.refresh", tooltip="Refresh the roster"),
    ]

    def __init__(self) -> None:
        super().__init__(id="roster")
        self.data: RosterData | None = None
        self.show_discharged = False
        self._select_after_load: uuid.UUID | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("Members", id="roster-title", classes="admin-title")
        yield Static("Loading…", id="roster-hint", classes="admin-hint")
        yield DataTable(id="members", cursor_type="row", zebra_stripes=True)
        yield Static("", id="roster-empty", classes="empty-hint")
        yield Static("", id="member-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#members", DataTable)
        table.add_column("Member", key="name")
        table.add_column("Chart id", key="chart")
        table.add_column("Status", key="status")
        table.add_column("Groups", key="groups")
        table.add_column("Goals", key="goals")
        table.add_column("Absences", key="absences")
        self.query_one("#roster-empty").display = False
        table.focus()
        self.reload()

    # -- data ------------------------------------------------------------------
    def reload(self) -> None:
        store = getattr(self.app, "store", None)
        if store is None:
            return
        include = self.show_discharged

        def read(session: Any) -> RosterData:
            from iop_facilitator.clock import local_today
            from iop_facilitator.enums import GroupStatus
            from iop_facilitator.services.groups import list_groups
            from iop_facilitator.services.members import member_summaries
            from iop_facilitator.services.settings import get_settings

            program = get_settings(session)
            today = local_today(program.timezone)
            return RosterData(
                today=today,
                max_absences=program.max_absences,
                window_weeks=program.absence_window_weeks,
                members=tuple(member_summaries(session, on=today, include_discharged=include)),
                groups=tuple((g.id, g.name) for g in list_groups(session, GroupStatus.active)),
            )

        store.read(read, self._loaded, self._failed)

    def _failed(self, problem: str) -> None:
        self.notify(problem, title="Roster", severity="error", timeout=10, markup=False)

    def _loaded(self, data: RosterData) -> None:
        if not self.is_mounted:
            return
        self.data = data
        table = self.query_one("#members", DataTable)
        current = self.selected()
        wanted = self._select_after_load or (current.member_id if current else None)
        self._select_after_load = None
        table.clear()
        for m in data.members:
            absences = str(m.absences)
            if data.max_absences and m.absences >= data.max_absences:
                absences += " · AT LIMIT"
            table.add_row(
                Text(clean_line(m.display_name)),
                Text(clean_line(m.chart_id) or "—"),
                Text(words(m.status)),
                Text(", ".join(clean_line(name) for _id, name in m.groups) or "none"),
                Text(f"{len(m.goals)} of 3", justify="right"),
                Text(absences),
                key=str(m.member_id),
            )
        if wanted is not None and str(wanted) in table.rows:
            table.move_cursor(row=table.get_row_index(str(wanted)), animate=False)
        empty = self.query_one("#roster-empty", Static)
        empty.display = not data.members
        table.display = bool(data.members)
        add_key = key_label(self, "roster.add", default="a")
        empty.update(Text(f"No members yet: press {add_key} to add one."))
        shown = "all members, discharged too" if self.show_discharged else "current members"
        self.query_one("#roster-hint", Static).update(
            Text(
                f"{len(data.members)} {shown} · absences in the last {data.window_weeks} weeks "
                f"(limit {data.max_absences})"
            )
        )
        self._show_detail()

    def selected(self) -> Any:
        """The highlighted member's summary, or None."""
        if self.data is None or not self.data.members:
            return None
        table = self.query_one("#members", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no valid cursor
            return None
        return next((m for m in self.data.members if str(m.member_id) == key), None)

    @on(DataTable.RowSelected, "#members")
    def _row_selected(self) -> None:
        self.action_edit()

    @on(DataTable.RowHighlighted, "#members")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        member = self.selected()
        detail = self.query_one("#member-detail", Static)
        if member is None:
            detail.display = False
            return
        detail.display = True
        lines = [f"{clean_line(member.display_name)} · goals:"]
        lines += [f"  {i}. {clean_line(goal)}" for i, goal in enumerate(member.goals, start=1)]
        if not member.goals:
            lines.append(f"  none yet (press {key_label(self, 'roster.goals', default='t')} to add them)")
        detail.update(Text("\n".join(lines)))

    def _need_member(self) -> Any:
        member = self.selected()
        if member is None:
            self.notify("Highlight a member first.", markup=False)
        return member

    def _after(self, message: str, select: uuid.UUID | None = None) -> Any:
        def finished(result: Any) -> None:
            if result is None:  # cancelled
                return
            if isinstance(result, uuid.UUID):
                self._select_after_load = result
            elif select is not None:
                self._select_after_load = select
            self.notify(message, markup=False)
            self.reload()

        return finished

    # -- actions ---------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss(None)

    def action_refresh(self) -> None:
        self.reload()

    def action_toggle_discharged(self) -> None:
        self.show_discharged = not self.show_discharged
        self.reload()

    def action_add(self) -> None:
        from iop_facilitator.services.members import (
            MAX_CHART_ID,
            MAX_DISPLAY_NAME,
            normalise_display_name,
        )

        def build(values: dict[str, Any]) -> Any:
            name = normalise_display_name(values["name"])
            chart = clean_line(values["chart"]) or None

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.services.members import add_member

                return add_member(session, name, external_chart_id=chart).id

            return op

        form = FormScreen(
            "Add a member",
            [
                Field("name", "Display name", placeholder="First name and last initial, e.g. Jordan M.",
                      max_length=MAX_DISPLAY_NAME, check=normalise_display_name),
                Field("chart", "Chart id (optional)", placeholder="The member's id in your EHR", max_length=MAX_CHART_ID),
            ],
            build,
            intro="The display name is shown to the whole room: preferred first name and last initial only.",
            name="member-add",
        )
        self.app.push_screen(form, callback=self._after("Member added."))

    def action_edit(self) -> None:
        from iop_facilitator.services.members import (
            MAX_CHART_ID,
            MAX_DISPLAY_NAME,
            normalise_display_name,
        )

        member = self._need_member()
        if member is None:
            return
        member_id, version = member.member_id, member.version

        def build(values: dict[str, Any]) -> Any:
            name = normalise_display_name(values["name"])
            chart = clean_line(values["chart"])

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.services.members import update_member

                return update_member(
                    session, member_id, display_name=name, external_chart_id=chart, expected_version=version
                ).id

            return op

        form = FormScreen(
            "Edit member",
            [
                Field("name", "Display name", value=clean_line(member.display_name), max_length=MAX_DISPLAY_NAME,
                      check=normalise_display_name),
                Field("chart", "Chart id", value=clean_line(member.chart_id), max_length=MAX_CHART_ID,
                      placeholder="empty: no chart id"),
            ],
            build,
            name="member-edit",
        )
        self.app.push_screen(form, callback=self._after("Member saved."))

    def action_enroll(self) -> None:
        member = self._need_member()
        if member is None or self.data is None:
            return
        if member.status == MemberStatus.discharged.value:
            self.notify("This member is discharged; they cannot be enrolled again here.", markup=False)
            return
        current = {group_id for group_id, _name in member.groups}
        choices = [(name, group_id) for group_id, name in self.data.groups if group_id not in current]
        if not choices:
            self.notify("No other active group to enroll in.", markup=False)
            return
        member_id = member.member_id

        def build(values: dict[str, Any]) -> Any:
            group_id = values["group"]
            if group_id is None:
                raise InvalidInput("choose a group")
            start = parse_date(values["start"], "the start date")

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.models import Group, Member
                from iop_facilitator.services.members import enroll

                enroll(session, session.get_one(Member, member_id), session.get_one(Group, group_id), start)
                return member_id

            return op

        form = FormScreen(
            "Enroll in a group",
            [
                Field("group", "Group", options=choices),
                Field("start", "Start date", value=self.data.today.isoformat(), placeholder="YYYY-MM-DD", max_length=10),
            ],
            build,
            intro=f"Member: {clean_line(member.display_name)}",
            name="member-enroll",
        )
        self.app.push_screen(form, callback=self._after("Enrolled."))

    def action_exit(self) -> None:
        member = self._need_member()
        if member is None or self.data is None:
            return
        if member.status == MemberStatus.discharged.value:
            self.notify("This member is already discharged.", markup=False)
            return
        member_id = member.member_id
        leave: list[tuple[str, Any]] = [(f"Leave {name}", group_id) for group_id, name in member.groups]
        leave.append(("Discharge from the program (every group)", DISCHARGE))

        def build(values: dict[str, Any]) -> Any:
            which = values["which"]
            reason = values["reason"]
            if which is None or reason is None:
                raise InvalidInput("choose what ends and why")
            on = parse_date(values["date"], "the exit date")
            note = values["note"]

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.models import Group, Member
                from iop_facilitator.services.members import discharge

                group = None if which == DISCHARGE else session.get_one(Group, which)
                discharge(session, session.get_one(Member, member_id), reason=ExitReason(reason), on=on,
                          note=note, group=group)
                return member_id

            return op

        form = FormScreen(
            "Exit a group or discharge",
            [
                Field("which", "What ends", options=leave),
                Field("reason", "Reason", options=[(words(r.value), r.value) for r in ExitReason]),
                Field("date", "Date", value=self.data.today.isoformat(), placeholder="YYYY-MM-DD", max_length=10),
                Field("note", "Note (optional)", placeholder="A short exit note", max_length=500),
            ],
            build,
            intro=f"Member: {clean_line(member.display_name)}",
            name="member-exit",
        )
        self.app.push_screen(form, callback=self._after("Saved."))

    def action_goals(self) -> None:
        from iop_facilitator.services.members import MAX_GOALS

        member = self._need_member()
        if member is None:
            return
        member_id = member.member_id
        current = list(member.goals) + [""] * MAX_GOALS

        def build(values: dict[str, Any]) -> Any:
            goals = [values[f"goal{i}"] for i in range(1, MAX_GOALS + 1)]
            if not any(clean_line(g) for g in goals):
                raise InvalidInput(f"a member has one to {MAX_GOALS} treatment-plan goals")

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.models import Member
                from iop_facilitator.services.members import set_goals

                set_goals(session, session.get_one(Member, member_id), goals)
                return member_id

            return op

        form = FormScreen(
            "Treatment-plan goals",
            [
                Field(f"goal{i}", f"Goal {i}" + (" (optional)" if i > 1 else ""), value=clean_line(current[i - 1]),
                      max_length=300)
                for i in range(1, MAX_GOALS + 1)
            ],
            build,
            intro=f"Member: {clean_line(member.display_name)} · one to {MAX_GOALS} goals, in order",
            name="member-goals",
        )
        self.app.push_screen(form, callback=self._after("Goals saved."))
