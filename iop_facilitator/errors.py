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


class EditConflict(Conflict):
    """A text edit was based on a version someone else has changed meanwhile; nothing was saved.

    ``field`` names what was edited (``"narrative"``, ``"note.response"``, ``"story"``...),
    ``mine`` is the text this edit wanted to save, ``theirs`` the text stored now (None when
    the record was deleted), ``base`` the text the edit started from. The message holds none
    of them (they are health information): a screen shows both texts from the attributes.
    """

    def __init__(self, field: str, *, mine: str, theirs: str | None, base: str) -> None:
        self.field = field
        self.mine = mine
        self.theirs = theirs
        self.base = base
        what = FIELD_LABELS.get(field, field.replace("_", " "))
        if theirs is None:
            message = f"the {what} was deleted by someone else meanwhile; your text was not saved"
        else:
            message = f"the {what} was changed by someone else meanwhile; your text was not saved (both versions are kept)"
        super().__init__(message)


FIELD_LABELS = {
    "narrative": "group narrative",
    "homework": "homework",
    "topic_notes": "topic notes",
    "story": "story note",
    "takeaway": "check-out takeaway",
    "feeling": "check-in feeling word",
    "note.intervention": "note's intervention",
    "note.response": "note's response",
    "note.plan": "note's plan",
    "note.goal_ids": "note's goals",
    "safety.disposition": "safety event's disposition",
    "safety.concern": "safety event's concern",
    "facts.participation": "participation level",
    "facts.affect": "affect",
    "facts.presentation": "presentation",
    "facts.risk_screen": "risk screen",
    "facts.safety_event_id": "risk screen's safety event",
    "facts.substance_use": "substance use report",
    "facts.use_detail": "substance use detail",
    "facts.observation": "your observation",
    "facts.behavior": "note's behavior",
    "facts.data": "note's data",
    "facts.assessment": "note's assessment",
    "facts.subjective": "note's subjective",
    "facts.objective": "note's objective",
    "facts.goal_progress": "goal's progress",
    "facts.goal_measure": "goal's measure",
}


class StorageFull(DatabaseProblem):
    """The disk (or the database server's disk) is full: the change was not saved; reads still work."""


class StorageReadOnly(DatabaseProblem):
    """The database (file, folder or server) accepts no writes: nothing can be saved, reading works."""


class DatabaseGone(DatabaseProblem):
    """The open SQLite file was deleted or replaced by another file: nothing more is written to it."""
