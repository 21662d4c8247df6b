"""The terminal user interface (Textual).

Nothing outside this package imports Textual. Start it with
:func:`iop_facilitator.tui.app.run`; import it lazily (the CLI must start fast).

``ESCDELAY`` (how long Textual waits after Esc for the rest of an escape sequence)
defaults to 25 ms here instead of Textual's 100 ms: a leader who presses Esc and then
a digit 50 ms later means two keys, not Alt+digit (the terminal sends a real escape
sequence in one piece). A value the user set is kept.
"""

import os

os.environ.setdefault("ESCDELAY", "25")
