"""Settings: the theme, who uses this laptop, and the program's name and timezone.

The theme and the facilitator are the user's own (``config.toml``, written with
:func:`iop_facilitator.config.save_config`); the staff records and the
program settings live in the database and change through the app's
background store.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from iop_facilitator.enums import StaffRole
from iop_facilitator.errors import InvalidInput
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.dialogs.form import Field, FormScreen
from iop_facilitator.tui.keys import key_label
from iop_facilitator.tui.screens.admin import ADMIN_CSS
from iop_facilitator.tui.widgets.footer import KeyFooter
from iop_facilitator.tui.widgets.header import AppHeader

if TYPE_CHECKING:
    from iop_facilitator.services.settings import SettingsView, StaffRow


def theme_order(name: str) -> tuple[int, str]:
    """The program's own themes first, then Textual's."""
    return (0 if name.startswith("iop-") else 1, name)


class SettingsScreen(Screen[None]):
    """Theme (applied and saved at once), this laptop's facilitator, the program."""

    CSS_PATH = ADMIN_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Home", id="settings.back", tooltip="Back to the home screen"),
        Binding("c", "credentials", "My name/credentials", id="settings.credentials",
                tooltip="Edit the name and credentials of this laptop's facilitator"),
        Binding("a", "add_staff", "Add staff", id="settings.add_staff", tooltip="Add a staff member"),
        Binding("p", "program", "Program", id="settings.program", tooltip="Edit the clinic name and timezone"),
        Binding("r", "refresh", "Refresh", id="settings.refresh", tooltip="Refresh the settings"),
    ]

    def __init__(self) -> None:
        super().__init__(id="settings")
        self.data: SettingsView | None = None

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with Horizontal(id="settings-columns"):
            with Vertical(id="theme-column"):
                yield Static("Theme", classes="admin-title")
                yield Static("Enter applies a theme and saves it.", classes="admin-hint")
                yield OptionList(id="themes")
            with Vertical(id="who-column"):
                yield Static("Who uses this laptop", classes="admin-title")
                yield Static(
                    "Enter on your name: you lead new meetings and sign notes on this laptop.", classes="admin-hint"
                )
                yield OptionList(id="staff")
                yield Static("", id="me")
        yield Static("Program", classes="admin-title")
        yield Static("Loading…", id="program")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._fill_themes()
        self.query_one("#themes", OptionList).focus()
        self.reload()

    # -- themes (config.toml) ------------------------------------------------------
    def _fill_themes(self) -> None:
        themes = self.query_one("#themes", OptionList)
        current = self.app.theme
        names = sorted(self.app.available_themes, key=theme_order)
        highlighted = themes.highlighted
        themes.clear_options()
        themes.add_options(
            [Option(Text(f"{name}  (in use)" if name == current else name), id=name) for name in names]
        )
        if highlighted is None and current in names:
            highlighted = names.index(current)
        if highlighted is not None and names:
            themes.highlighted = min(highlighted, len(names) - 1)

    @on(OptionList.OptionSelected, "#themes")
    def _theme_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        name = event.option.id
        if not name or name not in self.app.available_themes:
            return
        self.app.theme = name
        self.app.config.theme = name  # type: ignore[attr-defined]
        if self._save_config():
            self.notify(f"Theme {name} saved.", markup=False)
        self._fill_themes()

    def _save_config(self) -> bool:
        from iop_facilitator.config import save_config

        try:
            problems = save_config(self.app.config)  # type: ignore[attr-defined]
        except OSError as exc:
            self.notify(
                f"The settings file could not be written ({exc.strerror or exc}); the change lasts until you quit.",
                title="Settings", severity="error", timeout=12, markup=False,
            )
            return False
        for problem in problems:
            self.notify(problem, title="Settings", severity="warning", timeout=12, markup=False)
        return True

    # -- staff and program (database) -----------------------------------------------
    def reload(self) -> None:
        store = getattr(self.app, "store", None)
        if store is None:
            return

        from iop_facilitator.services.settings import settings_view

        store.read(settings_view, self._loaded, self._failed)

    def _failed(self, problem: str) -> None:
        self.notify(problem, title="Settings", severity="error", timeout=10, markup=False)

    def _loaded(self, data: SettingsView) -> None:
        if not self.is_mounted:
            return
        self.data = data
        me = self.me()
        staff = self.query_one("#staff", OptionList)
        highlighted = staff.highlighted
        staff.clear_options()
        for person in data.staff:
            label = clean_line(person.name)
            if person.credentials:
                label += f", {clean_line(person.credentials)}"
            label += f" ({person.role})"
            if me is not None and person.staff_id == me.staff_id:
                label += "  · this laptop"
            staff.add_option(Option(Text(label), id=str(person.staff_id)))
        if data.staff:
            if highlighted is None and me is not None:
                highlighted = [p.staff_id for p in data.staff].index(me.staff_id)
            staff.highlighted = min(highlighted or 0, len(data.staff) - 1)
        add_key = key_label(self, "settings.add_staff", default="a")
        if me is not None:
            who = clean_line(me.name) + (f", {clean_line(me.credentials)}" if me.credentials else "")
            text = f"This laptop: {who}."
            if not me.credentials:
                text += f" No credentials yet: press {key_label(self, 'settings.credentials', default='c')} (needed to sign notes)."
        elif not data.staff:
            text = f"No staff yet: press {add_key} to add yourself."
        else:
            text = f"Nobody chosen yet: highlight your name and press Enter (or {add_key} to add yourself)."
        self.query_one("#me", Static).update(Text(text))
        program_key = key_label(self, "settings.program", default="p")
        self.query_one("#program", Static).update(
            Text(
                f"Clinic: {clean_line(data.clinic_name)} · timezone: {clean_line(data.timezone)}"
                f" · locks after {data.idle_lock_minutes} min idle"
                f"  (press {program_key} to change)"
            )
        )

    def me(self) -> StaffRow | None:
        """This laptop's facilitator, when config.toml names an active staff member."""
        ident = self.app.facilitator_id()  # type: ignore[attr-defined]
        if ident is None or self.data is None:
            return None
        return next((p for p in self.data.staff if p.staff_id == ident), None)

    @on(OptionList.OptionSelected, "#staff")
    def _staff_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self._set_facilitator(event.option.id)

    def _set_facilitator(self, staff_id: str) -> None:
        self.app.config.facilitator_id = staff_id  # type: ignore[attr-defined]
        if self._save_config():
            self.notify("This laptop's facilitator is saved.", markup=False)
        if self.data is not None:
            self._loaded(self.data)

    # -- actions ---------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss(None)

    def action_refresh(self) -> None:
        self._fill_themes()
        self.reload()

    def action_credentials(self) -> None:
        from iop_facilitator.services.staff import MAX_CREDENTIALS, MAX_STAFF_NAME

        me = self.me()
        if me is None:
            self.notify("Choose who uses this laptop first: highlight the name and press Enter.", markup=False)
            return
        staff_id, version = me.staff_id, me.version

        def build(values: dict[str, Any]) -> Any:
            name = clean_line(values["name"])
            if not name:
                raise InvalidInput("a staff member needs a name")

            def op(session: Any) -> uuid.UUID:
                from iop_facilitator.services.staff import update_staff

                return update_staff(
                    session, staff_id, name=name, credentials=values["credentials"], expected_version=version
                ).id

            return op

        form = FormScreen(
            "Your name and credentials",
            [
                Field("name", "Name", value=clean_line(me.name), max_length=MAX_STAFF_NAME),
                Field("credentials", "Credentials", value=clean_line(me.credentials), max_length=MAX_CREDENTIALS,
                      placeholder="e.g. LCSW, LPC, LADC"),
            ],
            build,
            intro="Shown with your signature on every note you sign.",
            name="staff-edit",
        )
        self.app.push_screen(form, callback=self._after("Saved."))

    def action_add_staff(self) -> None:
        from iop_facilitator.services.staff import MAX_CREDENTIALS, MAX_STAFF_NAME

        def build(values: dict[str, Any]) -> Any:
            name = clean_line(values["name"])
            if not name:
                raise InvalidInput("a staff member needs a name")
            role = StaffRole(values["role"])
            mine = bool(values["me"])

            def op(session: Any) -> tuple[uuid.UUID, bool]:
                from iop_facilitator.services.staff import add_staff

                return add_staff(session, name, values["credentials"], role).id, mine

            return op

        def finished(result: Any) -> None:
            if result is None:
                return
            staff_id, mine = result
            if mine:
                self.app.config.facilitator_id = str(staff_id)  # type: ignore[attr-defined]
                self._save_config()
            self.notify("Staff member added.", markup=False)
            self.reload()

        form = FormScreen(
            "Add a staff member",
            [
                Field("name", "Name", max_length=MAX_STAFF_NAME, placeholder="e.g. Dana Quinn"),
                Field("credentials", "Credentials", max_length=MAX_CREDENTIALS, placeholder="e.g. LCSW"),
                Field("role", "Role", value=StaffRole.facilitator.value, options=[(r.value, r.value) for r in StaffRole]),
                Field("me", "Uses this laptop", value=False,
                      options=[("no", False), ("yes: this is me", True)]),
            ],
            build,
            name="staff-add",
        )
        self.app.push_screen(form, callback=finished)

    def action_program(self) -> None:
        if self.data is None:
            return
        from iop_facilitator.services.settings import check_idle_lock_minutes, validate_timezone

        idle_minutes = [self.data.idle_lock_minutes]

        def check_idle(text: str) -> int:
            try:
                minutes = int(str(text).strip())
            except ValueError:
                raise InvalidInput("the idle lock needs a whole number of minutes (1 to 240)") from None
            idle_minutes[0] = check_idle_lock_minutes(minutes)
            return idle_minutes[0]

        def build(values: dict[str, Any]) -> Any:
            clinic = clean_line(values["clinic"])
            if not clinic:
                raise InvalidInput("the clinic needs a name")
            timezone = validate_timezone(values["timezone"].strip())
            idle = check_idle(values["idle"])

            def op(session: Any) -> tuple[str, bool]:
                from iop_facilitator.services.settings import update_settings

                program = update_settings(session, clinic_name=clinic, timezone=timezone, idle_lock_minutes=idle)
                return program.clinic_name, bool(program.is_demo)

            return op

        def finished(result: Any) -> None:
            from iop_facilitator.tui import messages

            if result is None:
                return
            clinic, is_demo = result
            self.post_message(messages.ProgramLoaded(clinic, is_demo))
            set_idle = getattr(self.app, "set_idle_minutes", None)
            if set_idle is not None:
                set_idle(idle_minutes[0])
            self.notify("Program settings saved.", markup=False)
            self.reload()

        form = FormScreen(
            "Program",
            [
                Field("clinic", "Clinic name", value=clean_line(self.data.clinic_name), max_length=200),
                Field("timezone", "Timezone", value=clean_line(self.data.timezone), max_length=64,
                      placeholder="IANA name, e.g. America/Chicago", check=validate_timezone),
                Field("idle", "Lock after idle (minutes)", value=str(self.data.idle_lock_minutes), max_length=3,
                      placeholder="1 to 240", check=check_idle, integer=True),
            ],
            build,
            intro="The timezone decides which day is \"today\" for every group.",
            name="program-edit",
        )
        self.app.push_screen(form, callback=finished)

    def _after(self, message: str) -> Any:
        def finished(result: Any) -> None:
            if result is not None:
                self.notify(message, markup=False)
                self.reload()

        return finished
