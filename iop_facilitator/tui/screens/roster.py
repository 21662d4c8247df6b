"""The roster: every member, and the forms to add, edit, enroll, exit and set goals.

Data is the read model :func:`iop_facilitator.services.members.roster_view`,
read through the app's background store (plain values); every change is a service
call submitted to the store from a :class:`~iop_facilitator.tui.dialogs.form.FormScreen`,
whose problems (a full surname, a chart id already in use, a full group) are
shown inside the form. User text is cleaned and shown as plain ``Text``.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

from iop_facilitator.enums import ExitReason, MemberStatus
from iop_facilitator.errors import InvalidInput
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.dialogs.form import Field, FormScreen, parse_date
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.screens.admin import AdminListScreen, words

if TYPE_CHECKING:
    from iop_facilitator.services.members import RosterView

DISCHARGE = "__discharge__"


class RosterScreen(AdminListScreen["RosterView"]):
    """Members of the program: who they are, where they are enrolled, their goals."""

    PREFIX = "roster"
    TITLE_TEXT = "Members"
    NOUN = ("member", "members")
    TABLE_ID = "members"
    COLUMNS = (("Member", "name"), ("Chart id", "chart"), ("Status", "status"), ("Groups", "groups"),
               ("Goals", "goals"), ("Absences", "absences"))
    DETAIL_ID = "member-detail"
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
        super().__init__("roster")
        self.show_discharged = False

    # -- the list ----------------------------------------------------------------
    def read(self) -> Any:
        from iop_facilitator.services.members import roster_view

        return partial(roster_view, include_discharged=self.show_discharged)

    def records(self, data: RosterView) -> tuple[Any, ...]:
        return data.members

    @staticmethod
    def record_id(record: Any) -> uuid.UUID:
        return record.member_id

    def row(self, m: Any, data: RosterView) -> list[Text]:
        absences = str(m.absences)
        if data.max_absences and m.absences >= data.max_absences:
            absences += " · AT LIMIT"
        return [
            Text(clean_line(m.display_name)),
            Text(clean_line(m.chart_id) or "—"),
            Text(words(m.status)),
            Text(", ".join(clean_line(name) for _id, name in m.groups) or "none"),
            Text(f"{len(m.goals)} of 3", justify="right"),
            Text(absences),
        ]

    def summary(self, data: RosterView) -> str:
        shown = "all members, discharged too" if self.show_discharged else "current members"
        return (f"{len(data.members)} {shown} · absences in the last {data.window_weeks} weeks "
                f"(limit {data.max_absences})")

    def render_detail(self, member: Any, detail: Static) -> None:
        lines = [f"{clean_line(member.display_name)} · goals:"]
        lines += [f"  {i}. {clean_line(goal)}" for i, goal in enumerate(member.goals, start=1)]
        if not member.goals:
            lines.append(f"  none yet (press {key_label(self, 'roster.goals', default='t')} to add them)")
        detail.update(Text("\n".join(lines)))

    # -- actions ---------------------------------------------------------------
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
        self.app.push_screen(form, callback=self.after_form("Member added."))

    def action_edit(self) -> None:
        from iop_facilitator.services.members import (
            MAX_CHART_ID,
            MAX_DISPLAY_NAME,
            normalise_display_name,
        )

        member = self.need_selected()
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
        self.app.push_screen(form, callback=self.after_form("Member saved."))

    def action_enroll(self) -> None:
        member = self.need_selected()
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
                from iop_facilitator.services.members import enroll

                enroll(session, member_id, group_id, start)
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
        self.app.push_screen(form, callback=self.after_form("Enrolled."))

    def action_exit(self) -> None:
        member = self.need_selected()
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
                from iop_facilitator.services.members import discharge

                discharge(session, member_id, reason=ExitReason(reason), on=on, note=note,
                          group=None if which == DISCHARGE else which)
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
        self.app.push_screen(form, callback=self.after_form("Saved."))

    def action_goals(self) -> None:
        from iop_facilitator.services.members import MAX_GOALS

        member = self.need_selected()
        if member is None:
            return
        member_id = member.member_id
        current = list(member.goals) + [""] * MAX_GOALS

        def build(values: dict[str, Any]) -> Any:
            goals = [values[f"goal{i}"] for i in range(1, MAX_GOALS + 1)]
            if not any(clean_line(g) for g in goals):
                raise InvalidInput(f"a member has one to {MAX_GOALS} treatment-plan goals")

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.services.members import set_goals

                set_goals(session, member_id, goals)
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
        self.app.push_screen(form, callback=self.after_form("Goals saved."))
