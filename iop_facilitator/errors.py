"""Errors a user can cause and understand.

Every :class:`IopError` is shown as one line (no traceback) by the CLI and as a
notification by the TUI. Messages must never contain note text, names or other
protected health information beyond what the user typed on the command line.
"""

from __future__ import annotations


class IopError(Exception):
    """A known, user-facing failure."""


class NotFound(IopError):
    pass


class Ambiguous(IopError):
    def __init__(self, kind: str, ref: str, candidates: list[tuple[str, str]]):
        self.candidates = candidates
        listed = "; ".join(f"{label} ({ident})" for ident, label in candidates)
        super().__init__(f"{kind} {ref!r} is ambiguous; use the id of one of: {listed}")


class InvalidInput(IopError):
    pass


class Conflict(IopError):
    """The record changed under us (optimistic lock) or a rule forbids the change."""


class DatabaseProblem(IopError):
    """The database cannot be opened or used (wrong file, unreachable server, newer schema)."""


class PassphraseRequired(DatabaseProblem):
    """The database is encrypted and no passphrase was given (the TUI then shows its unlock screen)."""


class WrongPassphrase(DatabaseProblem):
    """The passphrase does not open the file (or the file is not a database at all: SQLCipher cannot tell)."""
