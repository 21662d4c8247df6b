"""The key footer every screen shows: one line, one widget, complete in the first frame."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from textual import events
    from textual.screen import Screen


class KeyFooter(Widget):
    """The current screen's keys (`⏎ Start  m Members …  ^p Commands`); click one to press it.

    Textual's ``Footer`` builds a child widget per key and shows them one message after it is
    mounted, and again after every change of bindings; at start-up that pushed the first
    complete frame back by about 40 ms. This footer draws the same line itself from
    ``screen.active_bindings`` whenever the bindings change. Keys the user remapped in
    ``config.toml`` show their new key (``App.get_key_display``). Disabled keys are dimmed.
    """

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-footer--key", "key-footer--label", "key-footer--disabled"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 100%;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyFooter > .key-footer--label {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyFooter > .key-footer--disabled {
        text-style: dim;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._spans: list[tuple[int, int, str]] = []  # (first cell, end cell, key) for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Screen) -> None:
        self.refresh()

    def _entries(self) -> tuple[list[tuple[str, str, str, bool]], tuple[str, str, str, bool] | None]:
        """(key, key as shown, label, enabled) for each shown action, and the palette key."""
        app = self.app
        seen: set[str] = set()
        entries: list[tuple[str, str, str, bool]] = []
        palette = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = (binding.key, app.get_key_display(binding), binding.description, enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            entries.append((binding.key, app.get_key_display(binding), binding.description, enabled))
        return entries, palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-footer--key")
        label_style = self.get_component_rich_style("key-footer--label")
        dim = self.get_component_rich_style("key-footer--disabled")
        entries, palette = self._entries()
        width = self.size.width
        line = Text(no_wrap=True, overflow="ellipsis")
        spans: list[tuple[int, int, str]] = []

        def add(text: Text, key: str, shown: str, label: str, enabled: bool) -> None:
            start = text.cell_len
            text.append(f" {shown} ", key_style + dim if not enabled else key_style)
            text.append(f"{label} " if label else "", label_style + dim if not enabled else label_style)
            spans.append((start, text.cell_len, key))

        for key, shown, label, enabled in entries:
            add(line, key, shown, label, enabled)
        if palette is not None:
            tail = Text(no_wrap=True)
            add(tail, *palette)
            room = max(0, width - tail.cell_len - 1)
            if line.cell_len > room:
                line.truncate(max(0, room - 1))
                line.append("…")
                spans = [span for span in spans if span[1] <= room - 1]
            offset = max(line.cell_len + 1, width - tail.cell_len)
            line.append(" " * (offset - line.cell_len - 1))
            line.append("▏", label_style)
            start_tail = line.cell_len
            key, _shown, _label, _enabled = palette
            line.append_text(tail)
            spans.append((start_tail, line.cell_len, key))
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
