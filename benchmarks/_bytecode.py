"""Byte-compile our package before timing it, as ``pip install`` does.

The baselines (Textual, Typer, the sqlite3 command line) start from compiled code; an editable
checkout run with ``PYTHONDONTWRITEBYTECODE=1`` would compile our modules from source on every
start and measure the compiler, not the app.
"""

from __future__ import annotations

import compileall
from pathlib import Path


def byte_compile_package() -> None:
    import iop_facilitator

    compileall.compile_dir(Path(iop_facilitator.__file__).parent, quiet=1)
