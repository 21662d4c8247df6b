"""The key footer every screen shows, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.screen import Screen


class KeyFooter(Footer):
    """Textual's ``Footer``, minus redundant rebuilds.

    The stock footer rebuilds all its key widgets on every "bindings changed" signal: each
    focus move, each screen pushed or resumed, each reactive declared with ``bindings=True``.
    The home screen sent six such signals before its first frame, and a roll-call key sends
    one per press. This footer folds the signals that arrive before the next refresh into
    one, and rebuilds only when what it would show (keys, labels, enabled state) differs
    from what it shows.
    """

    _refresh_pending = False
    _shown: tuple[object, ...] | None = None

    def _signature(self) -> tuple[object, ...]:
        app = self.app
        return (
            self.compact,
            self.show_command_palette,
            tuple(
                (key, binding.key, binding.action, binding.description, binding.show, binding.group,
                 enabled, tooltip, app.get_key_display(binding))
                for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
            ),
        )

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._signature()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._refresh_pending:
            return
        if self.is_attached and screen is self.screen:
            self._refresh_pending = True
            self.call_after_refresh(self._refresh_keys)

    async def _refresh_keys(self) -> None:
        self._refresh_pending = False
        if not self.is_attached:
            return
        if self._shown is None or self._signature() != self._shown:
            await self.recompose()
