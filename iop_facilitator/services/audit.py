"""The audit trail: who did what, when, to which record. Ids only, never note text."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlmodel import Session

from iop_facilitator.models import AuditEvent
from iop_facilitator.services.actor import current_actor


def record(
    session: Session,
    action: str,
    *,
    record_type: str = "",
    record_id: uuid.UUID | str | None = None,
    actor: str | None = None,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        actor=actor or current_actor(),
        action=action,
        record_type=record_type,
        record_id=str(record_id) if record_id is not None else None,
        details={k: _plain(v) for k, v in details.items()},
    )
    session.add(event)
    return event


def _plain(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, dt.date, dt.datetime)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
