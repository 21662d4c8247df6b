"""The Check-out step (placeholder until its pane is written)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from iop_facilitator.tui.steps.base import StepPane


class CheckoutPane(StepPane):
    STEP = "checkout"
    TITLE = "Check-out"

    def compose(self) -> ComposeResult:
        yield Static("Check-out", markup=False)
