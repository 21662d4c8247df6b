"""The ``iop`` command line (Typer). Textual is imported only by the commands that open the TUI."""

from __future__ import annotations


def main() -> None:
    from iop_facilitator.cli.app import app

    app(prog_name="iop")
