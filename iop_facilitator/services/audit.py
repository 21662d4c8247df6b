"""The audit trail: who did what, when, to which record. Ids only, never note text.

Entries are hash-chained (see :mod:`iop_facilitator.audit_chain`): :func:`record`
takes the database's write lock (SQLite) or an advisory lock (PostgreSQL)
before reading the last entry, so concurrent writers queue instead of forking
the chain.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from iop_facilitator import audit_chain
from iop_facilitator.clock import plain_utc, utcnow
from iop_facilitator.db.transactions import hold_write_lock
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
    seq, prev = _lock_and_last(session)
    event = AuditEvent(
        occurred_at=plain_utc(utcnow()),
        actor=actor or current_actor(),
        action=action,
        record_type=record_type,
        record_id=str(record_id) if record_id is not None else None,
        details={k: audit_chain.jsonable(v) for k, v in details.items()},
        seq=seq,
        prev_hash=prev,
    )
    event.entry_hash = audit_chain.entry_hash(
        seq, event.occurred_at, event.actor, action, record_type, event.record_id, event.details, prev
    )
    session.add(event)
    session.flush()
    return event


# An arbitrary, fixed key for PostgreSQL's transaction-scoped advisory lock on the audit chain.
PG_AUDIT_LOCK = 0x10_0AD1


def lock_chain(session: Session) -> None:
    """Take the audit chain's lock for this transaction (before reading what the next entry follows)."""
    session.flush()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_AUDIT_LOCK})
    else:  # SQLite: the database's write lock, held before the read below
        hold_write_lock(session)


def _lock_and_last(session: Session) -> tuple[int, str]:
    """Take the chain's lock for this transaction, then the next seq and the previous hash."""
    lock_chain(session)
    conn = session.connection()
    row = conn.execute(
        sa.text("SELECT seq, entry_hash FROM audit_event WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    ).first()
    if row is None:
        return 1, audit_chain.GENESIS
    return int(row[0]) + 1, row[1] or ""


def list_events(
    session: Session,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    action: str | None = None,
    limit: int | None = None,
) -> list[AuditEvent]:
    """Audit entries in chain order (oldest first); ``until`` includes that whole day (UTC).

    ``action`` is an exact action, or a prefix when it ends in ``.`` (``db.`` for every database action).
    ``limit`` keeps the newest ones.
    """
    from sqlmodel import col, select

    query = select(AuditEvent)
    if since is not None:
        query = query.where(col(AuditEvent.occurred_at) >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if until is not None:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(col(AuditEvent.occurred_at) < end)
    if action:
        if action.endswith("."):
            query = query.where(col(AuditEvent.action).startswith(action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == action)
    query = query.order_by(col(AuditEvent.seq).desc().nulls_last(), col(AuditEvent.occurred_at).desc())
    if limit is not None:
        query = query.limit(limit)
    return list(reversed(session.exec(query).all()))
