"""The terminal user interface (Textual).

Nothing outside this package imports Textual. Start it with
:func:`iop_facilitator.tui.app.run`; import it lazily (the CLI must start fast).
"""
