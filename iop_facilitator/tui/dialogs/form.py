"""The modal form of the admin screens: labelled inputs and selects, problems shown inline.

A :class:`FormScreen` is built from :class:`Field` descriptions and a
``build`` function. On save (Enter in a text box, or Ctrl+S), ``build`` gets
the values (text as typed, a select's value or ``None``) on the UI thread: it
checks them (raising an :class:`~iop_facilitator.errors.IopError`, shown
under the form) and returns the operation to run, a function of a SQLModel
``Session``. The app's background store runs and commits it; a failure is
shown under the form too (the form stays open, nothing typed is lost), a
success dismisses the form with the operation's result (``True`` when it
returned ``None``). Escape dismisses with ``None``.

A field's ``check`` (a function that raises ``IopError`` for a bad value)
runs while the user types and explains the rule next to the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static

from iop_facilitator.errors import InvalidInput, IopError
from iop_facilitator.services.text import clean_line
from iop_facilitator.tui.keys import key_label

Op = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """One line of a form: a text box, or a select when ``options`` is given."""

    name: str
    label: str
    value: Any = ""
    options: Sequence[tuple[str, Any]] | None = None  # (label, value); labels are shown as plain text
    placeholder: str = ""
    max_length: int = 0
    allow_blank: bool = False  # selects only: may be left empty (value None)
    check: Callable[[str], object] | None = None
    integer: bool = False


def parse_date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a date written YYYY-MM-DD") from None


def parse_int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number") from None


class FormScreen(ModalScreen[Any]):
    """A modal form; see the module docstring for the contract."""

    CSS_PATH = str(Path(__file__).with_suffix(".tcss"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close the form without saving"),
        Binding("ctrl+s", "save", "Save", id="form.save", tooltip="Save the form", priority=True),
    ]

    def __init__(
        self,
        title: str,
        fields: Sequence[Field],
        build: Callable[[dict[str, Any]], Op],
        *,
        intro: str = "",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, classes="form")
        self.form_title = title
        self.fields = list(fields)
        self.build = build
        self.intro = intro
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="form-dialog"):
            yield Static(Text(self.form_title), id="form-title")
            if self.intro:
                yield Static(Text(self.intro), id="form-intro")
            with VerticalScroll(id="form-fields"):
                for field in self.fields:
                    with Vertical(classes="form-field"):
                        with Horizontal(classes="form-row"):
                            yield Static(Text(field.label), classes="form-label")
                            yield self._widget(field)
                        yield Static("", id=f"check-{field.name}", classes="form-check")
            yield Static("", id="form-error")
            yield Static("", id="form-hint")

    def _widget(self, field: Field) -> Input | Select[Any]:
        ident = f"field-{field.name}"
        if field.options is not None:
            options = [(Text(clean_line(label)), value) for label, value in field.options]
            values = {value for _label, value in field.options}
            start = field.value if field.value in values else Select.NULL
            if start is Select.NULL and not field.allow_blank and options:
                start = options[0][1]
            return Select(options, id=ident, allow_blank=field.allow_blank, value=start, prompt="(none)", compact=True)
        return Input(
            value=str(field.value or ""),
            placeholder=field.placeholder,
            max_length=field.max_length,
            type="integer" if field.integer else "text",
            id=ident,
            compact=True,
        )

    def on_mount(self) -> None:
        save = key_label(self, "form.save", default="ctrl+s")
        cancel = key_label(self, "form.cancel", default="escape")
        self.query_one("#form-hint", Static).update(Text(f"Enter or {save} saves · {cancel} closes without saving"))
        for check in self.query(".form-check"):
            check.display = False
        self.query_one("#form-error").display = False
        first = next(iter(self.query("#form-fields Input, #form-fields Select")), None)
        if first is not None:
            first.focus()

    # -- values --------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.name}")
            if isinstance(widget, Select):
                out[field.name] = None if widget.value is Select.NULL else widget.value
            else:
                out[field.name] = widget.value  # type: ignore[attr-defined]
        return out

    def set_value(self, name: str, value: Any) -> None:
        widget = self.query_one(f"#field-{name}")
        widget.value = value  # type: ignore[attr-defined]

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("field-")
        field = next((f for f in self.fields if f.name == name), None)
        if field is None or field.check is None:
            return
        note = self.query_one(f"#check-{name}", Static)
        problem = ""
        if event.value.strip():
            try:
                field.check(event.value)
            except IopError as exc:
                problem = clean_line(str(exc))
        note.update(Text(f"⚠ {problem}" if problem else ""))
        note.display = bool(problem)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    # -- saving ------------------------------------------------------------------
    def show_problem(self, problem: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(Text(f"Not saved: {clean_line(problem)}"))
        error.display = True

    def action_save(self) -> None:
        if self.saving:
            return
        store = getattr(self.app, "store", None)
        if store is None:
            self.show_problem("the database is not open")
            return
        try:
            op = self.build(self.values())
        except (IopError, ValueError) as exc:  # ValueError: a value no vocabulary knows
            self.show_problem(str(exc))
            return
        self.saving = True
        store.submit(op, done=self._saved, failed=self._failed)

    def _saved(self, result: Any) -> None:
        self.saving = False
        if self.is_attached:
            self.dismiss(True if result is None else result)

    def _failed(self, problem: str) -> None:
        self.saving = False
        if self.is_attached:
            self.show_problem(problem)

    def action_cancel(self) -> None:
        self.dismiss(None)
