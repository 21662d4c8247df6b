"""signed records locked by triggers; audit chain and content hashes for older rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:00:00

Database-enforced lock (the services refuse too; this catches raw SQL):

* a signed meeting (``status = 'signed'`` or ``signed_at`` set) cannot be
  updated or deleted, except once to add the co-signature (``cosigned_by_id``,
  ``cosigned_at``, ``cosigner_credentials`` from NULL, with ``version`` and
  ``updated_at``) and nothing else;
* its attendance, progress notes, story notes and safety events cannot be
  inserted, updated or deleted;
* addenda and audit entries are append-only (no UPDATE or DELETE, ever).

Follow-ups are tasks, not the record: they stay closable after signing.

Data steps (before the triggers exist): audit entries written before the hash
chain (``seq IS NULL``) are chained in ``occurred_at`` order, and meetings
signed before content hashing get their hash now (sealing them as they are at
this upgrade). Every trigger error message contains ``iop-lock``.

Self-contained (issue 12): the audit chain's entry hash and the content hash
(canonical format 1) are frozen copies below, as they were when this migration was
written; it imports nothing from the live package, so a later change there cannot
change what this upgrade writes.

NOTE for later migrations: on SQLite a batch ("move and copy") rebuild of
``meeting``, ``attendance``, ``progress_note``, ``story_note``,
``safety_event``, ``addendum`` or ``audit_event`` drops that table's triggers;
such a migration must create them again (``iop db check`` reports missing ones).
Adding a column to ``meeting`` also needs the SQLite meeting update trigger
rebuilt with the new column in its "unchanged" list.
"""
import datetime as dt
import enum
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK = "iop-lock"
CHILDREN = ("attendance", "progress_note", "story_note", "safety_event")
APPEND_ONLY = ("addendum", "audit_event")
# Every meeting column except the co-signature, version and updated_at (schema 0004).
MEETING_FROZEN = (
    "id", "created_at", "group_id", "local_date", "scheduled_start", "scheduled_end", "actual_start",
    "actual_end", "modality", "location", "facilitator_id", "co_facilitator_id", "topic_id",
    "topic_version", "topic_hash", "status", "group_narrative", "note_format", "homework", "flow_step",
    "topic_notes", "prompts_done", "signed_by_id", "signed_at", "signer_credentials", "content_hash",
)
SIGNED = "(status = 'signed' OR signed_at IS NOT NULL)"

# ----------------------------------------------------------------------------- SQLite


def _sqlite_create() -> list[str]:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in MEETING_FROZEN)
    cosign_only = (
        "OLD.cosigned_by_id IS NULL AND OLD.cosigned_at IS NULL AND OLD.cosigner_credentials IS NULL "
        f"AND NEW.cosigned_by_id IS NOT NULL AND NEW.cosigned_at IS NOT NULL AND {unchanged}"
    )
    old_signed = "(OLD.status = 'signed' OR OLD.signed_at IS NOT NULL)"
    sql = [
        f"""CREATE TRIGGER iop_lock_meeting_update BEFORE UPDATE ON meeting
        WHEN {old_signed} AND NOT ({cosign_only})
        BEGIN SELECT RAISE(ABORT, '{LOCK}: this meeting is signed and locked'); END""",
        f"""CREATE TRIGGER iop_lock_meeting_delete BEFORE DELETE ON meeting
        WHEN {old_signed}
        BEGIN SELECT RAISE(ABORT, '{LOCK}: this meeting is signed and locked'); END""",
    ]
    for table in CHILDREN:
        def signed(ref: str) -> str:
            return f"EXISTS (SELECT 1 FROM meeting WHERE id = {ref}.meeting_id AND {SIGNED})"

        message = f"'{LOCK}: {table} of a signed meeting is locked'"
        sql += [
            f"""CREATE TRIGGER iop_lock_{table}_insert BEFORE INSERT ON {table}
            WHEN {signed('NEW')}
            BEGIN SELECT RAISE(ABORT, {message}); END""",
            f"""CREATE TRIGGER iop_lock_{table}_update BEFORE UPDATE ON {table}
            WHEN {signed('OLD')} OR {signed('NEW')}
            BEGIN SELECT RAISE(ABORT, {message}); END""",
            f"""CREATE TRIGGER iop_lock_{table}_delete BEFORE DELETE ON {table}
            WHEN {signed('OLD')}
            BEGIN SELECT RAISE(ABORT, {message}); END""",
        ]
    for table in APPEND_ONLY:
        for what in ("update", "delete"):
            sql.append(
                f"""CREATE TRIGGER iop_lock_{table}_{what} BEFORE {what.upper()} ON {table}
                BEGIN SELECT RAISE(ABORT, '{LOCK}: {table} entries cannot be changed or removed'); END"""
            )
    return sql


def _sqlite_drop() -> list[str]:
    names = ["iop_lock_meeting_update", "iop_lock_meeting_delete"]
    names += [f"iop_lock_{t}_{w}" for t in CHILDREN for w in ("insert", "update", "delete")]
    names += [f"iop_lock_{t}_{w}" for t in APPEND_ONLY for w in ("update", "delete")]
    return [f"DROP TRIGGER IF EXISTS {n}" for n in names]


# ----------------------------------------------------------------------------- PostgreSQL

_PG_MEETING = f"""
CREATE OR REPLACE FUNCTION iop_lock_meeting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  loose CONSTANT text[] := ARRAY['cosigned_by_id', 'cosigned_at', 'cosigner_credentials', 'version', 'updated_at'];
BEGIN
  IF NOT (OLD.status = 'signed' OR OLD.signed_at IS NOT NULL) THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE'
     AND OLD.cosigned_by_id IS NULL AND OLD.cosigned_at IS NULL AND OLD.cosigner_credentials IS NULL
     AND NEW.cosigned_by_id IS NOT NULL AND NEW.cosigned_at IS NOT NULL
     AND (to_jsonb(NEW) - loose) = (to_jsonb(OLD) - loose) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '{LOCK}: this meeting is signed and locked' USING ERRCODE = 'integrity_constraint_violation';
END $$
"""

_PG_CHILD = f"""
CREATE OR REPLACE FUNCTION iop_lock_meeting_part() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
      SELECT 1 FROM meeting m WHERE m.id = OLD.meeting_id AND (m.status = 'signed' OR m.signed_at IS NOT NULL)) THEN
    RAISE EXCEPTION '{LOCK}: % of a signed meeting is locked', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
      SELECT 1 FROM meeting m WHERE m.id = NEW.meeting_id AND (m.status = 'signed' OR m.signed_at IS NOT NULL)) THEN
    RAISE EXCEPTION '{LOCK}: % of a signed meeting is locked', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$
"""

_PG_APPEND_ONLY = f"""
CREATE OR REPLACE FUNCTION iop_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{LOCK}: % entries cannot be changed or removed', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$
"""


def _pg_create() -> list[str]:
    sql = [
        _PG_MEETING,
        _PG_CHILD,
        _PG_APPEND_ONLY,
        (
            "CREATE TRIGGER iop_lock_meeting BEFORE UPDATE OR DELETE ON meeting "
            "FOR EACH ROW EXECUTE FUNCTION iop_lock_meeting()"
        ),
    ]
    for table in CHILDREN:
        sql.append(
            f"CREATE TRIGGER iop_lock_{table} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION iop_lock_meeting_part()"
        )
    for table in APPEND_ONLY:
        sql.append(
            f"CREATE TRIGGER iop_lock_{table} BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION iop_append_only()"
        )
        # TRUNCATE skips row triggers; refuse it too.
        sql.append(
            f"CREATE TRIGGER iop_lock_{table}_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION iop_append_only()"
        )
    return sql


def _pg_drop() -> list[str]:
    sql = ["DROP TRIGGER IF EXISTS iop_lock_meeting ON meeting"]
    sql += [f"DROP TRIGGER IF EXISTS iop_lock_{t} ON {t}" for t in CHILDREN]
    for t in APPEND_ONLY:
        sql += [f"DROP TRIGGER IF EXISTS iop_lock_{t} ON {t}", f"DROP TRIGGER IF EXISTS iop_lock_{t}_truncate ON {t}"]
    sql += [
        "DROP FUNCTION IF EXISTS iop_lock_meeting()",
        "DROP FUNCTION IF EXISTS iop_lock_meeting_part()",
        "DROP FUNCTION IF EXISTS iop_append_only()",
    ]
    return sql


# ----------------------------------------------------------------------------- frozen hashing

GENESIS = "0" * 64
_STORAGE = "%Y-%m-%d %H:%M:%S.%f"
BATCH = 500
# The canonical content of a signed meeting, format 1: (column, kind) per table.
MEETING_FIELDS = (
    ("id", "id"), ("group_id", "id"), ("local_date", "date"), ("scheduled_start", "dt"),
    ("scheduled_end", "dt"), ("actual_start", "dt"), ("actual_end", "dt"), ("modality", "str"),
    ("location", "str"), ("facilitator_id", "id"), ("co_facilitator_id", "id"), ("topic_id", "str"),
    ("topic_version", "str"), ("topic_hash", "str"), ("status", "str"), ("group_narrative", "str"),
    ("note_format", "str"), ("homework", "str"), ("topic_notes", "str"), ("prompts_done", "json"),
    ("signed_by_id", "id"), ("signed_at", "dt"), ("signer_credentials", "str"),
)
PARTS = {
    "attendance": ("attendance", (
        ("id", "id"), ("member_id", "id"), ("status", "str"), ("arrived_at", "dt"), ("left_at", "dt"),
        ("minutes_attended", "int"), ("drop_in", "bool"), ("checkin_mood", "int"), ("checkin_urge", "int"),
        ("checkin_feeling", "str"), ("safety_concern", "bool"), ("checkout_mood", "int"),
        ("checkout_takeaway", "str"),
    )),
    "progress_notes": ("progress_note", (
        ("id", "id"), ("member_id", "id"), ("goal_ids", "json"), ("intervention", "str"),
        ("response", "str"), ("plan", "str"),
    )),
    "story_notes": ("story_note", (
        ("id", "id"), ("member_id", "id"), ("recorded_at", "dt"), ("text", "str"), ("author_id", "id"),
    )),
    "safety_events": ("safety_event", (
        ("id", "id"), ("member_id", "id"), ("occurred_at", "dt"), ("concern", "str"), ("risk_level", "str"),
        ("disposition", "str"), ("disposition_at", "dt"), ("recorded_by_id", "id"),
    )),
}


def _norm(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "str":
        return value.value if isinstance(value, enum.Enum) else str(value)
    if kind == "id":
        return value.hex if isinstance(value, uuid.UUID) else str(value).replace("-", "").lower()
    if kind == "dt":
        if isinstance(value, str):
            if len(value) == 26 and value[10] == " ":
                return value  # already the storage form
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime(_STORAGE)
    if kind == "date":
        return value if isinstance(value, str) else value.isoformat()
    if kind == "json":
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    if kind == "bool":
        return 1 if value else 0
    if kind == "int":
        return int(value)
    raise ValueError(kind)


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _content_hash(meeting: dict[str, Any], parts: dict[str, list[dict[str, Any]]]) -> str:
    """SHA-256 of the meeting's canonical content, format 1 (rows as arrays, sorted by id)."""
    body: dict[str, Any] = {"v": 1, "meeting": [_norm(kind, meeting.get(name)) for name, kind in MEETING_FIELDS]}
    for key, (_table, fields) in PARTS.items():
        rows = ([_norm(kind, r.get(name)) for name, kind in fields] for r in parts[key])
        body[key] = sorted(rows, key=lambda row: row[0])
    return hashlib.sha256(_dump(body)).hexdigest()


def _select(table: str, fields: Sequence[tuple[str, str]]) -> Any:
    columns = ", ".join(name for name, _ in fields)
    return sa.text(f"SELECT {columns} FROM {table} WHERE {'id' if table == 'meeting' else 'meeting_id'} IN :ids")


def _entry_hash(
    seq: int, occurred_at: Any, actor: str, action: str, record_type: str | None, record_id: str | None,
    details: Any, prev: str,
) -> str:
    """The audit chain's entry hash: compact JSON of the entry, ISO UTC time with microseconds."""
    when = dt.datetime.fromisoformat(occurred_at) if isinstance(occurred_at, str) else occurred_at
    if when.tzinfo is None:  # storage form on SQLite is naive UTC
        when = when.replace(tzinfo=dt.UTC)
    if details is None:
        details = {}
    elif isinstance(details, (str, bytes)):
        details = json.loads(details)
    body = {
        "seq": int(seq), "occurred_at": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor or "", "action": action or "", "record_type": record_type or "",
        "record_id": None if record_id is None else str(record_id), "details": details,
    }
    digest = hashlib.sha256(_dump(body))
    digest.update(prev.encode("ascii"))
    return digest.hexdigest()


# ----------------------------------------------------------------------------- data steps


def _chain_old_audit_entries(conn: sa.Connection) -> None:
    last = conn.execute(
        sa.text("SELECT seq, entry_hash FROM audit_event WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    ).first()
    seq, prev = (int(last[0]), last[1] or "") if last else (0, GENESIS)
    rows = conn.execute(
        sa.text(
            "SELECT id, occurred_at, actor, action, record_type, record_id, details FROM audit_event "
            "WHERE seq IS NULL ORDER BY occurred_at, created_at, id"
        )
    ).all()
    update = sa.text("UPDATE audit_event SET seq = :seq, prev_hash = :prev, entry_hash = :hash WHERE id = :id")
    params = []
    for row in rows:
        seq += 1
        digest = _entry_hash(
            seq, row.occurred_at, row.actor, row.action, row.record_type, row.record_id, row.details, prev
        )
        params.append({"seq": seq, "prev": prev, "hash": digest, "id": row.id})
        prev = digest
    if params:
        conn.execute(update, params)


def _hash_signed_meetings(conn: sa.Connection) -> None:
    ids = [
        r[0]
        for r in conn.execute(
            sa.text(
                "SELECT id FROM meeting WHERE (status = 'signed' OR signed_at IS NOT NULL) AND content_hash IS NULL"
            ).columns(sa.column("id", sa.Uuid()))
        )
    ]
    update = sa.text("UPDATE meeting SET content_hash = :hash WHERE id = :id").bindparams(
        sa.bindparam("id", type_=sa.Uuid())
    )
    expanding = sa.bindparam("ids", expanding=True, type_=sa.Uuid())
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        parts: dict[str, dict[str, list[dict[str, Any]]]] = {m.hex: {k: [] for k in PARTS} for m in batch}
        for key, (table, fields) in PARTS.items():
            stmt = _select(table, (("meeting_id", "id"), *fields)).bindparams(expanding)
            for row in conn.execute(stmt, {"ids": batch}).mappings():
                parts[_norm("id", row["meeting_id"])][key].append(dict(row))
        meetings = conn.execute(_select("meeting", MEETING_FIELDS).bindparams(expanding), {"ids": batch}).mappings()
        params = [
            {"hash": _content_hash(dict(m), parts[_norm("id", m["id"])]), "id": uuid.UUID(hex=_norm("id", m["id"]))}
            for m in meetings
        ]
        conn.execute(update, params)


def upgrade() -> None:
    conn = op.get_bind()
    _chain_old_audit_entries(conn)
    _hash_signed_meetings(conn)
    statements = _sqlite_create() if conn.dialect.name == "sqlite" else _pg_create()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    conn = op.get_bind()
    for statement in _sqlite_drop() if conn.dialect.name == "sqlite" else _pg_drop():
        op.execute(statement)
