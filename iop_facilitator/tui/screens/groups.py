"""The groups: every group of the program, and the form to add or edit one.

Rows come from the read model :func:`iop_facilitator.services.groups.groups_view`
through the app's background store; adding and editing call
:func:`~iop_facilitator.services.groups.add_group` and
:func:`~iop_facilitator.services.groups.update_group` from a
:class:`~iop_facilitator.tui.dialogs.form.FormScreen`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from iop_facilitator.enums import Audience, Enrollment, GroupStatus, GroupType, LevelOfCare
from iop_facilitator.errors import InvalidInput
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.dialogs.form import Field, FormScreen, parse_int
from iop_facilitator.tui.screens.admin import AdminListScreen, words

if TYPE_CHECKING:
    from iop_facilitator.services.groups import GroupsView


def days_text(weekdays: tuple[str, ...]) -> str:
    """``mon,wed,thu``; a run of the whole week or the working week in short."""
    from iop_facilitator.enums import WEEKDAYS

    if not weekdays:
        return "unscheduled"
    if tuple(weekdays) == WEEKDAYS:
        return "every day"
    if tuple(weekdays) == WEEKDAYS[:5]:
        return "mon–fri"
    return ",".join(weekdays)


def schedule(group: Any) -> str:
    return f"{days_text(group.weekdays)}\n{group.start_time} · {group.duration_minutes} min"


class GroupsScreen(AdminListScreen["GroupsView"]):
    """Every group, any status: schedule, enrollment, facilitators."""

    PREFIX = "groups"
    TITLE_TEXT = "Groups"
    NOUN = ("group", "groups")
    TABLE_ID = "group-list"
    COLUMNS = (("Group", "group"), ("Schedule", "schedule"), ("Enrollment", "enrollment"),
               ("Enrolled", "enrolled"), ("Facilitators", "facilitators"), ("Status", "status"))
    ROW_HEIGHT = 2
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Home", id="groups.back", tooltip="Back to the home screen"),
        Binding("a", "add", "Add", id="groups.add", tooltip="Add a group"),
        Binding("e", "edit", "Edit", id="groups.edit", tooltip="Edit the highlighted group"),
        Binding("r", "refresh", "Refresh", id="groups.refresh", tooltip="Refresh the groups"),
    ]

    def __init__(self) -> None:
        super().__init__("groups-screen")

    # -- the list ----------------------------------------------------------------
    def read(self) -> Callable[[Any], GroupsView]:
        from iop_facilitator.services.groups import groups_view

        return groups_view

    def records(self, data: GroupsView) -> tuple[Any, ...]:
        return data.groups

    @staticmethod
    def record_id(record: Any) -> uuid.UUID:
        return record.group_id

    def row(self, g: Any, data: GroupsView) -> list[Text]:
        return [
            Text.assemble(
                (clean_line(g.name), "bold"), "\n", f"{words(g.group_type)} · {g.level_of_care} · {g.audience}"
            ),
            Text(schedule(g)),
            Text(g.enrollment),
            Text(f"{g.enrolled}/{g.capacity}", justify="right"),
            Text("\n".join(clean_line(name) for _id, name in g.facilitators[:2]) or "none"),
            Text(words(g.status)),
        ]

    def summary(self, data: GroupsView) -> str:
        active = sum(1 for g in data.groups if g.status == GroupStatus.active.value)
        return (f"{len(data.groups)} {'group' if len(data.groups) == 1 else 'groups'}, {active} active"
                " · enrolled counts as of today")

    # -- actions ---------------------------------------------------------------
    def action_add(self) -> None:
        if self.data is None:
            return
        self._open_form(None)

    def action_edit(self) -> None:
        group = self.need_selected()
        if group is not None:
            self._open_form(group)

    def _open_form(self, group: Any) -> None:
        from iop_facilitator.services.groups import parse_start_time, parse_weekdays

        assert self.data is not None
        staff = [(label, staff_id) for staff_id, label in self.data.staff]  # (label, value) for the selects
        known = {staff_id for staff_id, _label in self.data.staff}
        lead = co = None
        if group is not None:
            people = [staff_id for staff_id, _name in group.facilitators]
            lead = people[0] if people else None
            co = people[1] if len(people) > 1 else None
            for staff_id, name in group.facilitators:  # an inactive facilitator stays choosable
                if staff_id not in known:
                    staff.append((f"{name} (inactive)", staff_id))
        editing = group is not None

        fields = [
            Field("name", "Name", value=clean_line(group.name) if editing else "", max_length=200),
            Field("type", "Type", value=group.group_type if editing else GroupType.process.value,
                  options=[(words(t.value), t.value) for t in GroupType]),
            Field("weekdays", "Weekdays", value=",".join(group.weekdays) if editing else "",
                  placeholder="e.g. mon,wed,thu (empty: unscheduled)", check=parse_weekdays),
            Field("start", "Start time", value=group.start_time if editing else "09:00", placeholder="HH:MM (24-hour)",
                  max_length=5, check=parse_start_time),
            Field("minutes", "Minutes", value=str(group.duration_minutes) if editing else "180", integer=True,
                  max_length=3),
            Field("level", "Level of care", value=group.level_of_care if editing else LevelOfCare.IOP.value,
                  options=[(lc.value, lc.value) for lc in LevelOfCare]),
            Field("audience", "Audience", value=group.audience if editing else Audience.adult.value,
                  options=[(a.value, a.value) for a in Audience]),
            Field("enrollment", "Enrollment", value=group.enrollment if editing else Enrollment.open.value,
                  options=[(e.value, e.value) for e in Enrollment]),
            Field("capacity", "Capacity", value=str(group.capacity) if editing else "15", integer=True, max_length=3),
            Field("lead", "Lead facilitator", value=lead, options=staff, allow_blank=True),
            Field("co", "Co-facilitator", value=co, options=staff, allow_blank=True),
        ]
        if editing:
            fields.append(Field("status", "Status", value=group.status,
                                options=[(words(s.value), s.value) for s in GroupStatus]))
        group_id = group.group_id if editing else None
        version = group.version if editing else None
        before = (lead, co)

        def build(values: dict[str, Any]) -> Any:
            name = clean_line(values["name"])
            if not name:
                raise InvalidInput("a group needs a name")
            weekdays = parse_weekdays(values["weekdays"])
            start = parse_start_time(values["start"])
            minutes = parse_int(values["minutes"], "the length in minutes")
            capacity = parse_int(values["capacity"], "the capacity")
            people = [p for p in (values["lead"], values["co"]) if p is not None]
            if len(people) == 2 and people[0] == people[1]:
                raise InvalidInput("the co-facilitator must be someone other than the lead")
            same_people = (values["lead"], values["co"]) == before
            kinds = {
                "group_type": GroupType(values["type"]),
                "level_of_care": LevelOfCare(values["level"]),
                "audience": Audience(values["audience"]),
                "enrollment": Enrollment(values["enrollment"]),
            }
            status = GroupStatus(values["status"]) if values.get("status") else None

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.services.groups import add_group, update_group

                if group_id is None:
                    return add_group(
                        session, name, weekdays=weekdays, start_time=start, duration_minutes=minutes,
                        capacity=capacity, facilitators=people, **kinds,
                    ).id
                return update_group(
                    session, group_id, name=name, weekdays=weekdays, start_time=start, duration_minutes=minutes,
                    capacity=capacity, status=status, facilitators=None if same_people else people,
                    expected_version=version, **kinds,
                ).id

            return op

        form = FormScreen(
            "Edit group" if editing else "Add a group",
            fields,
            build,
            intro="A new schedule applies to meetings from now on." if editing else "",
            name="group-edit" if editing else "group-add",
        )
        self.app.push_screen(form, callback=self.after_form("Group saved." if editing else "Group added."))
