"""The root group, with its command groups loaded only when used.

``iop --help`` needs each group's name and one-line help, not its commands; ``iop export
attendance`` needs the ``export`` group only. Importing every command module and building
every command's options up front cost about 30 ms on each run. :data:`COMMANDS` names each
group's module and help line; :class:`LazyIopGroup` imports a module the first time its
command is run (or asked for its own help), and shows the help line from here otherwise.
``tests/cli/test_cli.py`` checks that these help lines match the modules' own.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from iop_facilitator.cli.errors import IopGroup


class Lazy(NamedTuple):
    module: str  # defines ``app`` (a Typer group) or a function named like the command
    help: str  # the first line of its help, shown by ``iop --help``


COMMANDS: dict[str, Lazy] = {
    "audit": Lazy(
        "iop_facilitator.cli.audit",
        "Show the audit log: signing, co-signing, addenda, exports, backups, restores, settings and more.",
    ),
    "group": Lazy("iop_facilitator.cli.groups", "Groups: their schedule, level of care and facilitators."),
    "member": Lazy("iop_facilitator.cli.members", "Members: display names, enrollment, goals and discharge."),
    "staff": Lazy("iop_facilitator.cli.staff", "Staff: facilitators, supervisors and admins, with credentials."),
    "meeting": Lazy("iop_facilitator.cli.meetings", "Group meetings (sessions)."),
    "settings": Lazy(
        "iop_facilitator.cli.settings",
        "Program settings: clinic name, timezone, crisis resources, notice, policy, codes.",
    ),
    "topics": Lazy(
        "iop_facilitator.cli.topics",
        "Topic guides: list, show, validate; a group's history, matrix and suggestions.",
    ),
    "db": Lazy("iop_facilitator.cli.db", "The database: upgrade, check, verify, back up, restore."),
    "export": Lazy("iop_facilitator.cli.export", "Exports for staff: attendance for billing, notes for the chart."),
    "report": Lazy("iop_facilitator.cli.report", "Reports: IOP hours per week, attendance rates and the absence policy."),
}


def load_command(name: str) -> Any:
    """The real (Typer-built) command for ``name``: imports its module."""
    import typer
    import typer.main

    entry = COMMANDS[name]
    module = importlib.import_module(entry.module)
    target = getattr(module, "app", None)
    if target is None:  # a single command: a function named like it
        target = typer.Typer()
        target.command(name)(getattr(module, name))
    target._add_completion = False  # a part of ``iop``, not a program of its own  # noqa: SLF001
    command = typer.main.get_command(target)
    command.name = name
    return command


class LazyIopGroup(IopGroup):
    """:class:`IopGroup` whose :data:`COMMANDS` are imported on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        return names + [n for n in COMMANDS if n not in names]

    def load(self, name: str) -> Any:
        if name not in self.commands:
            self.commands[name] = load_command(name)
        return self.commands[name]

    def load_all(self) -> None:
        for name in COMMANDS:
            self.load(name)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        # Listing (help, suggestions): a stand-in with the help line; running resolves the real one.
        from typer.core import TyperCommand

        return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in COMMANDS:
            self.load(args[0])
        return super().resolve_command(ctx, args)
