"""The Review and sign step (placeholder until its pane is written)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from iop_facilitator.tui.steps.base import StepPane


class ReviewPane(StepPane):
    STEP = "review"
    TITLE = "Review and sign"

    def compose(self) -> ComposeResult:
        yield Static("Review and sign", markup=False)
