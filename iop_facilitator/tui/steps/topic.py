"""The Topic step (placeholder until its pane is written)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from iop_facilitator.tui.steps.base import StepPane


class TopicPane(StepPane):
    STEP = "topic"
    TITLE = "Topic"

    def compose(self) -> ComposeResult:
        yield Static("Topic", markup=False)
