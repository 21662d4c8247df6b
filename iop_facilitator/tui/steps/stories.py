"""The Stories step (placeholder until its pane is written)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from iop_facilitator.tui.steps.base import StepPane


class StoriesPane(StepPane):
    STEP = "stories"
    TITLE = "Stories"

    def compose(self) -> ComposeResult:
        yield Static("Stories", markup=False)
