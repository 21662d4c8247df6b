"""The audit entries of an export (a disclosure): ``export.<kind>`` and ``export.withdrawn``.

An export's entry is committed after every file is completely written and before the
first is published (``output.disclosure``), with :func:`record_export` in a session or,
on the SQLite fast path (no SQLAlchemy), with :func:`record_export_sqlite` on the plain
``sqlite3`` connection (``audit_chain.append_sqlite``, the same hash chain).
:func:`record_withdrawn` / :func:`record_withdrawn_sqlite` say that publishing failed
part-way and what was published was taken back. Details hold ids, dates and hashes,
never a path or a name (:func:`export_details`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iop_facilitator.audit_chain import jsonable

if TYPE_CHECKING:
    import sqlite3

    from sqlmodel import Session

    from iop_facilitator.db.engine import Database
    from iop_facilitator.exports.output import Staging


def export_details(
    *,
    command: str,
    fmt: str,
    records: int,
    filters: Mapping[str, Any],
    staging: Staging | None = None,
    recipient: str | None = None,
    purpose: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The audit ``details`` of an export (a disclosure): command, format, record count,
    filters, recipient and purpose when given, and each file's hashes (see the module docstring).

    ``filters`` must hold ids and dates only (resolve ``--member``/``--group`` to
    ids first): whatever the user typed could be a name, and the audit log never
    holds names. ``recipient`` and ``purpose`` are what staff typed for the
    accounting of disclosures (an organisation and a reason, one line each).
    """
    details: dict[str, Any] = {
        "command": command,
        "format": fmt,
        "records": int(records),
        "filters": {k: v for k, v in jsonable(dict(filters)).items() if v not in (None, "", [], False)},
        "status": "published",
    }
    if recipient:
        details["recipient"] = " ".join(recipient.split())[:200]
    if purpose:
        details["purpose"] = " ".join(purpose.split())[:200]
    if staging is not None:
        details["files"] = [f.audit() for f in staging.files]
        details["folders_sha256"] = staging.folders()
    details.update(jsonable(extra))
    return details


def record_export(
    session: Session,
    kind: str,
    *,
    command: str,
    fmt: str,
    records: int,
    filters: Mapping[str, Any],
    actor: str | None = None,
    **extra: Any,
) -> None:
    """Add the audit entry ``export.<kind>`` to ``session`` (the caller commits)."""
    from iop_facilitator.services import audit

    audit.record(
        session,
        f"export.{kind}",
        record_type="export",
        record_id=None,
        actor=actor,
        **export_details(command=command, fmt=fmt, records=records, filters=filters, **extra),
    )


def record_export_sqlite(
    conn: sqlite3.Connection,
    kind: str,
    *,
    command: str,
    fmt: str,
    records: int,
    filters: Mapping[str, Any],
    actor: str | None = None,
    **extra: Any,
) -> None:
    """Like :func:`record_export` on a plain ``sqlite3`` connection (no SQLAlchemy import).

    Appends a hash-chained entry with :func:`iop_facilitator.audit_chain.append_sqlite`
    (inside the caller's transaction if one is open; the caller then commits).
    """
    from iop_facilitator.audit_chain import append_sqlite
    from iop_facilitator.clock import utcnow
    from iop_facilitator.services.actor import current_actor

    details = export_details(command=command, fmt=fmt, records=records, filters=filters, **extra)
    append_sqlite(
        conn,
        actor=actor or current_actor(),
        action=f"export.{kind}",
        record_type="export",
        record_id=None,
        details=details,
        occurred_at=utcnow(),
    )


def record_withdrawn(database: Database, command: str, reason: str) -> None:
    """``export.withdrawn`` in its own transaction: publishing failed, nothing stayed published."""
    from iop_facilitator.services import audit

    with database.begin() as session:
        audit.record(session, "export.withdrawn", record_type="export", command=command, reason=reason)


def record_withdrawn_sqlite(conn: sqlite3.Connection, command: str, reason: str) -> None:
    """:func:`record_withdrawn` on the fast path's plain ``sqlite3`` connection."""
    from iop_facilitator.audit_chain import append_sqlite
    from iop_facilitator.clock import utcnow
    from iop_facilitator.services.actor import current_actor

    append_sqlite(conn, actor=current_actor(), action="export.withdrawn", record_type="export",
                  details={"command": command, "reason": reason}, occurred_at=utcnow())
