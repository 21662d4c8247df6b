"""one meeting per group and scheduled start (unique index); duplicates left by the old race resolved

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00

Before this version, two leaders starting the same group at the same moment could create
two meetings for one scheduled start (check-then-insert without a lock). This revision adds
the unique index ``uq_meeting_group_start`` on ``meeting (group_id, scheduled_start)``
(an index, so SQLite adds it without rebuilding ``meeting``, which would drop its lock
triggers). Existing duplicates are resolved first, without losing or altering anything
recorded:

* the meeting kept in its slot is the signed one, else the furthest along (completed, in
  progress, draft), else the one with the most recorded parts, else the oldest;
* another duplicate with **nothing recorded** (no attendance, stories, notes, safety events,
  addenda or follow-ups, no narrative, homework, topic or topic notes, not signed) is an
  artifact of the race: it is deleted;
* another duplicate with something recorded (unsigned) is kept whole and moved out of the
  slot by a few microseconds of its scheduled start and end (invisible in every screen and
  export, which show minutes), so both meetings stay visible for the leader to finish;
* two *signed* meetings in one slot cannot be told apart without altering a signed record:
  the upgrade stops with a one-line message naming their ids (nothing is changed).

Each deletion or move is recorded in the audit log (``meeting.duplicate_removed`` /
``meeting.duplicate_moved``, ids only), in the hash chain. Everything runs in the upgrade's
one transaction (``migrations/env.py``).

Self-contained (issue 12): the audit chain's entry hash is a frozen copy below; the only
import of ours is the exception the program reports (``errors.DatabaseProblem``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_meeting_group_start"
PARTS = ("attendance", "story_note", "progress_note", "safety_event", "addendum", "follow_up")
PROGRESS = {"signed": 0, "completed": 1, "in_progress": 2, "draft": 3}
ACTOR = "schema upgrade 0007"

MEETINGS = sa.table(
    "meeting",
    sa.column("id", sa.Uuid()),
    sa.column("group_id", sa.Uuid()),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("scheduled_start", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("scheduled_end", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("status", sa.String()),
    sa.column("signed_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("topic_id", sa.String()),
    sa.column("group_narrative", sa.Text()),
    sa.column("homework", sa.Text()),
    sa.column("topic_notes", sa.Text()),
)
AUDIT = sa.table(
    "audit_event",
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("occurred_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("record_type", sa.String()),
    sa.column("record_id", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("seq", sa.Integer()),
    sa.column("prev_hash", sa.String()),
    sa.column("entry_hash", sa.String()),
)


def _duplicate_slots(conn: sa.Connection) -> list[tuple[uuid.UUID, dt.datetime]]:
    m = MEETINGS.c
    query = (
        sa.select(m.group_id, m.scheduled_start)
        .group_by(m.group_id, m.scheduled_start)
        .having(sa.func.count() > 1)
    )
    return [(row[0], row[1]) for row in conn.execute(query)]


def _parts(conn: sa.Connection, meeting_id: uuid.UUID) -> int:
    total = 0
    for table in PARTS:
        part = sa.table(table, sa.column("meeting_id", sa.Uuid()))
        total += conn.execute(
            sa.select(sa.func.count()).select_from(part).where(part.c.meeting_id == meeting_id)
        ).scalar_one()
    return total


def _entry_hash(
    seq: int, occurred_at: dt.datetime, actor: str, action: str, record_type: str, record_id: str,
    details: dict[str, Any], prev: str,
) -> str:
    """The audit chain's entry hash (``audit_chain.entry_hash`` as of this revision)."""
    body = {
        "seq": seq, "occurred_at": occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor, "action": action, "record_type": record_type, "record_id": record_id, "details": details,
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    digest.update(prev.encode("ascii"))
    return digest.hexdigest()


def _audit(conn: sa.Connection, action: str, meeting_id: uuid.UUID, details: dict) -> None:
    """Append one entry to the audit hash chain (the lock of services.audit, frozen here)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x10_0AD1})
    last = conn.execute(
        sa.text("SELECT seq, entry_hash FROM audit_event WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    ).first()
    seq, prev = (int(last[0]) + 1, last[1] or "") if last else (1, "0" * 64)
    now = dt.datetime.now(dt.UTC)
    digest = _entry_hash(seq, now, ACTOR, action, "meeting", str(meeting_id), details, prev)
    conn.execute(
        AUDIT.insert().values(
            id=uuid.uuid4(), created_at=now, occurred_at=now, actor=ACTOR, action=action, record_type="meeting",
            record_id=str(meeting_id), details=details, seq=seq, prev_hash=prev, entry_hash=digest,
        )
    )


def _resolve_duplicates(conn: sa.Connection) -> None:
    m = MEETINGS.c
    for group_id, start in _duplicate_slots(conn):
        rows = conn.execute(
            sa.select(MEETINGS).where(m.group_id == group_id, m.scheduled_start == start)
        ).mappings().all()
        described = []
        for row in rows:
            signed = row["status"] == "signed" or row["signed_at"] is not None
            texts = any((row[k] or "").strip() for k in ("group_narrative", "homework", "topic_notes"))
            parts = _parts(conn, row["id"])
            described.append({
                "row": row,
                "signed": signed,
                "empty": not signed and not parts and not texts and row["topic_id"] is None,
                "key": (0 if signed else PROGRESS.get(row["status"], 4), -parts, row["created_at"], str(row["id"])),
            })
        described.sort(key=lambda d: d["key"])
        signed_ids = [str(d["row"]["id"]) for d in described if d["signed"]]
        if len(signed_ids) > 1:
            from iop_facilitator.errors import DatabaseProblem

            raise DatabaseProblem(
                "cannot add the one-meeting-per-start rule: signed meetings "
                f"{', '.join(signed_ids)} share one scheduled start; nothing was changed (contact support)"
            )
        kept = described[0]["row"]["id"]
        shift = 0
        for item in described[1:]:
            row = item["row"]
            if item["empty"]:
                conn.execute(MEETINGS.delete().where(m.id == row["id"]))
                _audit(conn, "meeting.duplicate_removed", row["id"], {"kept": str(kept), "reason": "empty duplicate"})
                continue
            shift += 1
            offset = dt.timedelta(microseconds=shift)
            conn.execute(
                MEETINGS.update()
                .where(m.id == row["id"])
                .values(scheduled_start=row["scheduled_start"] + offset, scheduled_end=row["scheduled_end"] + offset)
            )
            _audit(conn, "meeting.duplicate_moved", row["id"], {"kept": str(kept), "microseconds": shift})


def upgrade() -> None:
    conn = op.get_bind()
    _resolve_duplicates(conn)
    op.create_index(INDEX, "meeting", ["group_id", "scheduled_start"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="meeting")
