"""Finding a record from what a person typed: its id (or an id prefix) or its name."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from iop_facilitator.errors import Ambiguous, NotFound

T = TypeVar("T", bound=SQLModel)

MIN_ID_PREFIX = 6


def resolve(session: Session, model: type[T], ref: str, *, name_field: str, kind: str) -> T:
    """The one record of ``model`` that ``ref`` names.

    ``ref`` may be a full UUID, an id prefix of at least six hex digits (as
    shown in lists), or a name (case-insensitive, exact). Several matches raise
    :class:`Ambiguous` listing the candidates; none raises :class:`NotFound`.
    """
    text = (ref or "").strip()
    if not text:
        raise NotFound(f"no {kind} given")
    try:
        ident = uuid.UUID(text)
    except ValueError:
        ident = None
    if ident is not None:
        found = session.get(model, ident)
        if found is None:
            raise NotFound(f"no {kind} with id {text}")
        return found
    name_col = getattr(model, name_field)
    matches = list(session.exec(select(model).where(func.lower(name_col) == text.lower())))
    if not matches:
        hexpart = text.replace("-", "").lower()
        if len(hexpart) >= MIN_ID_PREFIX and all(c in "0123456789abcdef" for c in hexpart):
            matches = [
                m for m in session.exec(select(model)) if m.id.hex.startswith(hexpart)  # type: ignore[attr-defined]
            ]
    if not matches:
        raise NotFound(f"no {kind} named or numbered {text!r}")
    if len(matches) > 1:
        raise Ambiguous(
            kind,
            text,
            sorted((str(m.id), str(getattr(m, name_field))) for m in matches),  # type: ignore[attr-defined]
        )
    return matches[0]
