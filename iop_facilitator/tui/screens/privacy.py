"""The privacy curtain: one key hides everything about the meeting until it is pressed again."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static


class PrivacyScreen(Screen[None]):
    """A blank screen. It shows no names, no group, no clinic: only how to come back."""

    def __init__(self, key_hint: str) -> None:
        super().__init__(id="privacy")
        self.key_hint = key_hint

    def compose(self) -> ComposeResult:
        yield Static(f"Screen hidden. Press {self.key_hint} to show it again.", id="privacy-hint", markup=False)
