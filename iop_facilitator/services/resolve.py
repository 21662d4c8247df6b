"""Finding a record from what a person typed: its id (or an id prefix) or its name."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from iop_facilitator.errors import Ambiguous, Conflict, NotFound

T = TypeVar("T", bound=SQLModel)

MIN_ID_PREFIX = 6


def as_opened(session: Session, model: type[T], record_id: uuid.UUID, expected_version: int | None, *, what: str) -> T:
    """The record an editor opened, if it still exists and (with ``expected_version``, the
    version the editor read) nobody changed it meanwhile; else a one-line refusal."""
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(f"that {what} no longer exists")
    if expected_version is not None and record.version != expected_version:  # type: ignore[attr-defined]
        raise Conflict(f"this {what} was changed elsewhere; reopen it and try again")
    return record


def row(session: Session, model: type[T], value: T | uuid.UUID, *, what: str) -> T:
    """``value`` when it is already a record, else the record with that id (a one-line
    :class:`NotFound` when it is gone): services take either, so a screen can pass ids."""
    if isinstance(value, model):
        return value
    return as_opened(session, model, value, None, what=what)  # type: ignore[arg-type]


def by_full_id(session: Session, model: type[T], text: str, *, kind: str) -> T | None:
    """The record whose full id ``text`` is (:class:`NotFound` when none has it); None when ``text`` is no UUID."""
    try:
        ident = uuid.UUID(text)
    except ValueError:
        return None
    found = session.get(model, ident)
    if found is None:
        raise NotFound(f"no {kind} with id {text}")
    return found


def id_prefix(text: str) -> str | None:
    """``text`` as an id prefix (at least :data:`MIN_ID_PREFIX` hex digits, dashes ignored), else None."""
    hexpart = text.replace("-", "").lower()
    if len(hexpart) >= MIN_ID_PREFIX and all(c in "0123456789abcdef" for c in hexpart):
        return hexpart
    return None


def ids_starting(session: Session, model: type[SQLModel], prefix: str) -> list[uuid.UUID]:
    """Ids of ``model`` starting with ``prefix`` (hex digits)."""
    # Ids are stored as 32 hex digits on SQLite and as native UUIDs on PostgreSQL: compare in Python.
    return [i for i in session.exec(select(model.id)) if i.hex.startswith(prefix)]  # type: ignore[attr-defined]


def resolve(session: Session, model: type[T], ref: str, *, name_field: str, kind: str) -> T:
    """The one record of ``model`` that ``ref`` names.

    ``ref`` may be a full UUID, an id prefix of at least six hex digits (as
    shown in lists), or a name (case-insensitive, exact). Several matches raise
    :class:`Ambiguous` listing the candidates; none raises :class:`NotFound`.
    """
    text = (ref or "").strip()
    if not text:
        raise NotFound(f"no {kind} given")
    found = by_full_id(session, model, text, kind=kind)
    if found is not None:
        return found
    name_col = getattr(model, name_field)
    matches = list(session.exec(select(model).where(func.lower(name_col) == text.lower())))
    prefix = id_prefix(text) if not matches else None
    if prefix is not None:
        matches = [session.get_one(model, i) for i in ids_starting(session, model, prefix)]
    if not matches:
        raise NotFound(f"no {kind} named or numbered {text!r}")
    if len(matches) > 1:
        raise Ambiguous(
            kind,
            text,
            sorted((str(m.id), str(getattr(m, name_field))) for m in matches),  # type: ignore[attr-defined]
        )
    return matches[0]
