"""The Check-in step (placeholder until its pane is written)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from iop_facilitator.tui.steps.base import StepPane


class CheckinPane(StepPane):
    STEP = "checkin"
    TITLE = "Check-in"

    def compose(self) -> ComposeResult:
        yield Static("Check-in", markup=False)
