"""What reference data said on a given day, and the accounting of disclosures.

Reference data (staff, groups, members, goals, enrollments, the program settings) is
edited in place, but database triggers (schema 0006) copy every row, as it was, into
``row_history`` before each UPDATE or DELETE, whoever made it (the app or raw SQL).
:func:`as_of` rebuilds a table as it stood at a moment: for each row, the first
history entry after that moment holds its values then; a row without one has not
changed since (or did not exist yet, if created later).

:func:`disclosures` lists the exports (``export.*`` audit entries): who, when, what,
to whom and why, and the SHA-256 of each file; with a member, only those that
contained that member's records (HIPAA 164.528's accounting of disclosures).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from iop_facilitator.audit_chain import jsonable
from iop_facilitator.errors import InvalidInput
from iop_facilitator.models import (
    AuditEvent,
    Goal,
    Group,
    GroupEnrollment,
    Member,
    ProgramSettings,
    RowHistory,
    Staff,
)

# What ``iop audit --as-of --table NAME`` accepts, and the columns it shows.
TABLES: dict[str, tuple[type[Any], tuple[str, ...]]] = {
    "settings": (ProgramSettings, (
        "clinic_name", "timezone", "service_codes", "disclosure_notice", "max_absences", "absence_window_weeks",
        "weekly_hours_adult", "weekly_hours_adolescent", "per_diem_daily_hours", "idle_lock_minutes",
    )),
    "staff": (Staff, ("name", "credentials", "role", "active", "requires_cosign")),
    "group": (Group, (
        "name", "group_type", "level_of_care", "audience", "modality", "location", "weekdays", "start_time",
        "duration_minutes", "status",
    )),
    "member": (Member, ("display_name", "external_chart_id", "status")),
    "goal": (Goal, ("member_id", "position", "text", "active")),
    "enrollment": (GroupEnrollment, ("group_id", "member_id", "start_date", "exit_date", "exit_reason")),
}


@dataclass(frozen=True)
class RowAsOf:
    row_id: str
    values: dict[str, Any]
    changed_since: bool  # the row was changed (or deleted) after that moment
    deleted_since: bool


def _decode(value: Any) -> Any:
    """SQLite's history triggers keep JSON columns as their text: show them parsed."""
    if isinstance(value, str) and value[:1] in "[{":
        import json

        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _hex(value: Any) -> str:
    return value.hex if isinstance(value, uuid.UUID) else str(value).replace("-", "").lower()


def as_of(session: Session, table: str, when: dt.datetime, *, row_id: str | None = None) -> list[RowAsOf]:
    """Every row of ``table`` (a key of :data:`TABLES`) as it stood at ``when`` (aware)."""
    if table not in TABLES:
        raise InvalidInput(f"unknown table {table!r}; one of: {', '.join(TABLES)}")
    model, columns = TABLES[table]
    name = model.__tablename__
    flags = {c for c in columns if model.model_fields[c].annotation in (bool, "bool")}

    def old(values: dict[str, Any]) -> dict[str, Any]:
        return {c: (bool(values.get(c)) if c in flags and values.get(c) is not None else _decode(values.get(c)))
                for c in columns}

    wanted = _hex(row_id) if row_id else None
    first_change: dict[str, RowHistory] = {}
    query = (
        select(RowHistory)
        .where(RowHistory.table_name == name, col(RowHistory.changed_at) > when)
        .order_by(col(RowHistory.changed_at), col(RowHistory.id))
    )
    if wanted:
        query = query.where(RowHistory.row_id == wanted)
    for entry in session.exec(query):
        first_change.setdefault(_hex(entry.row_id), entry)
    out: list[RowAsOf] = []
    seen: set[str] = set()
    current = select(model)
    if wanted:
        current = current.where(model.id == uuid.UUID(hex=wanted))
    for row in session.exec(current):
        key = row.id.hex
        seen.add(key)
        change = first_change.get(key)
        if change is not None:
            out.append(RowAsOf(key, old(change.old_row), True, False))
        elif row.created_at <= when:
            out.append(RowAsOf(key, {c: jsonable(getattr(row, c)) for c in columns}, False, False))
    for key, change in first_change.items():  # rows deleted since
        if key not in seen:
            out.append(RowAsOf(key, old(change.old_row), True, True))
    return out


def parse_id(text: str) -> str:
    try:
        return uuid.UUID(text.strip()).hex
    except ValueError:
        raise InvalidInput("--record takes a record id (a UUID), as `iop audit` lists them") from None


# --------------------------------------------------------------------------- disclosures


@dataclass(frozen=True)
class Disclosure:
    seq: int | None
    occurred_at: dt.datetime
    actor: str
    kind: str  # "notes", "attendance", ...
    fmt: str
    records: int
    recipient: str
    purpose: str
    filters: dict[str, Any]
    files: list[dict[str, Any]]
    members: list[str]


def disclosures(
    session: Session,
    *,
    member_id: uuid.UUID | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[Disclosure]:
    """Exports published (oldest first); with ``member_id`` only those holding that member's records.

    An export held a member's records when its file was made for them (per-member
    files, ``--member``), or when it covered a meeting of theirs: the export's filters
    (dates, group, whether unsigned meetings were included) are applied again to the
    member's attendance; signed meetings cannot change, so this is exact for them
    (meetings signed after the export are not counted).
    """
    from iop_facilitator.services.audit import list_events

    out = []
    for event in list_events(session, since=since, until=until, action="export."):
        details = event.details or {}
        if event.action == "export.withdrawn" or details.get("status", "published") != "published":
            continue
        if member_id is not None and not _covers(session, event, details, member_id):
            continue
        out.append(
            Disclosure(
                seq=event.seq, occurred_at=event.occurred_at, actor=event.actor,
                kind=event.action.removeprefix("export."), fmt=str(details.get("format", "")),
                records=int(details.get("records") or 0), recipient=str(details.get("recipient") or ""),
                purpose=str(details.get("purpose") or ""), filters=dict(details.get("filters") or {}),
                files=list(details.get("files") or []) if isinstance(details.get("files"), list) else [],
                members=[str(m) for m in details.get("members") or []],
            )
        )
    return out


def _covers(session: Session, event: AuditEvent, details: dict[str, Any], member_id: uuid.UUID) -> bool:
    mine = str(member_id)
    if details.get("members"):
        return mine in {str(m) for m in details["members"]}
    filters = details.get("filters") or {}
    if filters.get("member"):
        return str(filters["member"]) == mine
    from iop_facilitator.models import Attendance, GroupMeeting

    query = (
        select(sa.literal(1))
        .select_from(Attendance)
        .join(GroupMeeting, col(GroupMeeting.id) == col(Attendance.meeting_id))
        .where(Attendance.member_id == member_id)
    )
    if filters.get("since"):
        query = query.where(col(GroupMeeting.local_date) >= dt.date.fromisoformat(str(filters["since"])[:10]))
    if filters.get("until"):
        query = query.where(col(GroupMeeting.local_date) <= dt.date.fromisoformat(str(filters["until"])[:10]))
    if filters.get("group"):
        query = query.where(GroupMeeting.group_id == uuid.UUID(str(filters["group"])))
    if not filters.get("include_unsigned"):
        query = query.where(GroupMeeting.status == "signed", col(GroupMeeting.signed_at) <= event.occurred_at)
    return session.exec(query.limit(1)).first() is not None
