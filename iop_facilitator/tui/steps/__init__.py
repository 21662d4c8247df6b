"""The steps of a live meeting, one widget each (check-in, stories, topic, check-out, notes, review).

Each step is a :class:`~iop_facilitator.tui.steps.base.StepPane`: the meeting
screen sets its ``snapshot`` (attributes down) and the pane posts
:class:`~iop_facilitator.tui.steps.base.Edit` messages with the change to make
(messages up). Panes never touch the database themselves.
"""
