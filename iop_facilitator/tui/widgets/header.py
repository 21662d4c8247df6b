"""The top line every screen shows: the ≡ icon and the app's title, complete in the first frame."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from iop_facilitator.services.text import clean_line

if TYPE_CHECKING:
    from textual import events

ICON = " ≡ "


class AppHeader(Widget):
    """``≡`` at the left (click: the command palette) and ``title — sub-title`` centred.

    Textual's ``Header`` fills in its title one message after it is mounted (and once more
    for each change), which held back the first complete frame; this widget draws the line
    itself from the app's ``title`` and ``sub_title`` and redraws when they change. Both are
    user text (the clinic name): cleaned and never read as markup.
    """

    ALLOW_SELECT = False
    DEFAULT_CSS = """
    AppHeader {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "title", self._title_changed, init=False)
        self.watch(self.app, "sub_title", self._title_changed, init=False)
        for name in ("alert", "save_trouble"):
            if hasattr(self.app, name):
                self.watch(self.app, name, self._title_changed, init=False)

    def _title_changed(self, _value: str) -> None:
        self.refresh()

    def render(self) -> Text:
        alert = clean_line(getattr(self.app, "alert", "") or "")
        trouble = clean_line(getattr(self.app, "save_trouble", "") or "")
        if not alert and trouble:
            alert = f"NOT SAVED YET: {trouble}"
        if alert:
            # A storage alert (read-only database, database file gone, changes held back by a full
            # disk) replaces the title on every screen, in words (never colour alone).
            line = Text(ICON, no_wrap=True)
            line.append(f" {alert} ", style="bold reverse")
            line.truncate(max(1, self.size.width), overflow="ellipsis")
            return line
        width = self.size.width
        room = max(1, width - 2 * len(ICON))
        title = Text(clean_line(self.app.title), style="bold")
        sub_title = clean_line(self.app.sub_title)
        if sub_title and getattr(self.app, "demo", False):
            # Demo data says so once per screen, here, clearly (in words and reversed, not colour
            # alone) and whole: a long clinic name is shortened, never the marker.
            marker = Text(" — ")
            marker.append(f" {sub_title} ", style="bold reverse")
            title.truncate(max(1, room - marker.cell_len), overflow="ellipsis")
            title.append_text(marker)
        elif sub_title:
            title.append(" — ")
            title.append(sub_title, style="dim")
        title.truncate(room, overflow="ellipsis")
        line = Text(ICON, no_wrap=True)
        left = max(len(ICON), (width - title.cell_len) // 2)
        line.append(" " * (left - len(ICON)))
        line.append_text(title)
        return line

    def on_click(self, event: events.Click) -> None:
        if event.x < len(ICON):
            event.stop()
            self.app.action_command_palette()
