"""signed snapshots, reference-data history, lock triggers without bypasses

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00

Self-contained (issue 12): everything this migration computes (the snapshot's
canonical form and hash, the billing-code rule, the audit chain's entry hash) is a
frozen copy here; it imports nothing from the live package.

Schema:

* ``signed_snapshot`` / ``signed_member`` / ``signed_cosign``: what a signed meeting
  shows and bills, frozen (see ``models.SignedSnapshot``);
* ``row_history``: every prior version of staff, goal, group, member, enrollment
  and program-settings rows, written by triggers on UPDATE and DELETE.

Data (before the triggers exist): every meeting signed before this upgrade gets a
snapshot of the values as they are now, marked ``source = 'migration'`` (topic
titles are left empty: the topic id, version and hash identify the guide), and its
co-signature a ``signed_cosign`` row. One audit entry ``integrity.backfill``
anchors them all: counts, the legacy addenda's ids and a SHA-256 over every
``kind:id:hash`` line (``iop db verify`` recomputes it).

Triggers (all dropped and created again, so their definitions are exactly the ones
``iop db check`` expects; SQLite keeps the 0005 names):

* SQLite ``INSERT OR REPLACE`` / ``UPDATE OR REPLACE`` delete conflicting rows
  without firing DELETE triggers; every locked table gets a BEFORE INSERT guard
  refusing an insert whose id (or meeting) targets a locked row, and the UPDATE
  guards refuse an id change onto a locked row;
* a signed meeting's co-signature can be set only with its ``signed_cosign`` row
  present (the app writes both, and the audit entry, in one transaction);
* PostgreSQL: the part-table trigger locks the meeting row ``FOR SHARE`` (signing
  holds ``FOR UPDATE``), and every locked table refuses ``TRUNCATE``.

NOTE for later migrations: a SQLite batch rebuild of any table named in
``LOCKED``/``HISTORY`` below drops its triggers: create them again. A column added to
``meeting`` needs the meeting update trigger rebuilt; a column added to a HISTORY
table needs its SQLite history trigger rebuilt (``iop db check`` compares definitions).
"""
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
revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK = "iop-lock"
CHILDREN = ("attendance", "progress_note", "story_note", "safety_event", "signed_snapshot", "signed_member")
APPEND_ONLY = ("addendum", "audit_event", "row_history", "signed_cosign")
# Every meeting column except the co-signature, version and updated_at (schema 0004).
MEETING_FROZEN = (
    "id", "created_at", "group_id", "local_date", "scheduled_start", "scheduled_end", "actual_start",
    "actual_end", "modality", "location", "facilitator_id", "co_facilitator_id", "topic_id",
    "topic_version", "topic_hash", "status", "group_narrative", "note_format", "homework", "flow_step",
    "topic_notes", "prompts_done", "signed_by_id", "signed_at", "signer_credentials", "content_hash",
)
# Reference data whose prior values are kept (table: columns as of this schema).
HISTORY: dict[str, tuple[str, ...]] = {
    "program_settings": (
        "id", "created_at", "updated_at", "version", "clinic_name", "timezone", "crisis_resources",
        "crisis_steps", "disclosure_notice", "max_absences", "absence_window_weeks", "service_codes",
        "weekly_hours_adult", "weekly_hours_adolescent", "per_diem_daily_hours", "is_demo", "idle_lock_minutes",
    ),
    "staff": ("id", "created_at", "updated_at", "version", "name", "credentials", "role", "active", "requires_cosign"),
    "therapy_group": (
        "id", "created_at", "updated_at", "version", "name", "group_type", "enrollment", "weekdays",
        "start_time", "duration_minutes", "status", "level_of_care", "audience", "modality", "location",
        "capacity", "start_date", "end_date",
    ),
    "member": ("id", "created_at", "updated_at", "version", "display_name", "external_chart_id", "status"),
    "enrollment": (
        "id", "created_at", "updated_at", "version", "group_id", "member_id", "start_date", "exit_date",
        "exit_reason", "exit_note",
    ),
    "goal": ("id", "created_at", "updated_at", "version", "member_id", "position", "text", "active"),
}
SIGNED = "(status = 'signed' OR signed_at IS NOT NULL)"
OLD_SQLITE_TRIGGERS = (
    "iop_lock_meeting_update", "iop_lock_meeting_delete",
    *(f"iop_lock_{t}_{w}" for t in ("attendance", "progress_note", "story_note", "safety_event")
      for w in ("insert", "update", "delete")),
    *(f"iop_lock_{t}_{w}" for t in ("addendum", "audit_event") for w in ("update", "delete")),
)


# ----------------------------------------------------------------------------- SQLite


def _signed(ref: str) -> str:
    return f"EXISTS (SELECT 1 FROM meeting WHERE id = {ref} AND {SIGNED})"


def _sqlite_create() -> list[str]:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in MEETING_FROZEN)
    cosign_only = (
        "OLD.cosigned_by_id IS NULL AND OLD.cosigned_at IS NULL AND OLD.cosigner_credentials IS NULL "
        "AND NEW.cosigned_by_id IS NOT NULL AND NEW.cosigned_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM signed_cosign WHERE meeting_id = OLD.id AND cosigner_id IS NEW.cosigned_by_id) "
        f"AND {unchanged}"
    )
    old_signed = "(OLD.status = 'signed' OR OLD.signed_at IS NOT NULL)"
    locked = f"'{LOCK}: this meeting is signed and locked'"
    sql = [
        f"""CREATE TRIGGER iop_lock_meeting_insert BEFORE INSERT ON meeting
        WHEN {_signed('NEW.id')}
        BEGIN SELECT RAISE(ABORT, {locked}); END""",
        f"""CREATE TRIGGER iop_lock_meeting_update BEFORE UPDATE ON meeting
        WHEN ({old_signed} AND NOT ({cosign_only})) OR (NEW.id IS NOT OLD.id AND {_signed('NEW.id')})
        BEGIN SELECT RAISE(ABORT, {locked}); END""",
        f"""CREATE TRIGGER iop_lock_meeting_delete BEFORE DELETE ON meeting
        WHEN {old_signed}
        BEGIN SELECT RAISE(ABORT, {locked}); END""",
    ]
    for table in CHILDREN:
        message = f"'{LOCK}: {table} of a signed meeting is locked'"
        taken = f"EXISTS (SELECT 1 FROM {table} x WHERE x.id = NEW.id AND {_signed('x.meeting_id')})"
        sql += [
            f"""CREATE TRIGGER iop_lock_{table}_insert BEFORE INSERT ON {table}
            WHEN {_signed('NEW.meeting_id')} OR {taken}
            BEGIN SELECT RAISE(ABORT, {message}); END""",
            f"""CREATE TRIGGER iop_lock_{table}_update BEFORE UPDATE ON {table}
            WHEN {_signed('OLD.meeting_id')} OR {_signed('NEW.meeting_id')} OR (NEW.id IS NOT OLD.id AND {taken})
            BEGIN SELECT RAISE(ABORT, {message}); END""",
            f"""CREATE TRIGGER iop_lock_{table}_delete BEFORE DELETE ON {table}
            WHEN {_signed('OLD.meeting_id')}
            BEGIN SELECT RAISE(ABORT, {message}); END""",
        ]
    exists = {
        "addendum": "EXISTS (SELECT 1 FROM addendum WHERE id = NEW.id)",
        "audit_event": "EXISTS (SELECT 1 FROM audit_event WHERE id = NEW.id OR (NEW.seq IS NOT NULL AND seq = NEW.seq))",
        "row_history": "EXISTS (SELECT 1 FROM row_history WHERE id = NEW.id)",
        "signed_cosign": (
            "EXISTS (SELECT 1 FROM signed_cosign WHERE id = NEW.id OR meeting_id = NEW.meeting_id) "
            "OR EXISTS (SELECT 1 FROM meeting WHERE id = NEW.meeting_id AND cosigned_at IS NOT NULL)"
        ),
    }
    for table in APPEND_ONLY:
        message = f"'{LOCK}: {table} entries cannot be changed or removed'"
        sql.append(
            f"""CREATE TRIGGER iop_lock_{table}_insert BEFORE INSERT ON {table}
            WHEN {exists[table]}
            BEGIN SELECT RAISE(ABORT, {message}); END"""
        )
        for what in ("update", "delete"):
            sql.append(
                f"""CREATE TRIGGER iop_lock_{table}_{what} BEFORE {what.upper()} ON {table}
                BEGIN SELECT RAISE(ABORT, {message}); END"""
            )
    now = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"
    for table, columns in HISTORY.items():
        old = ", ".join(f"'{c}', OLD.{c}" for c in columns)
        for what in ("update", "delete"):
            sql.append(
                f"""CREATE TRIGGER iop_history_{table}_{what} AFTER {what.upper()} ON {table}
                BEGIN INSERT INTO row_history (id, created_at, table_name, row_id, operation, changed_at, old_row)
                VALUES (lower(hex(randomblob(16))), {now}, '{table}', OLD.id, '{what}', {now}, json_object({old})); END"""
            )
    return sql


def _sqlite_drop() -> list[str]:
    names = ["iop_lock_meeting_insert", "iop_lock_meeting_update", "iop_lock_meeting_delete"]
    names += [f"iop_lock_{t}_{w}" for t in CHILDREN for w in ("insert", "update", "delete")]
    names += [f"iop_lock_{t}_{w}" for t in APPEND_ONLY for w in ("insert", "update", "delete")]
    names += [f"iop_history_{t}_{w}" for t in HISTORY for w in ("update", "delete")]
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
     AND EXISTS (SELECT 1 FROM signed_cosign c WHERE c.meeting_id = OLD.id AND c.cosigner_id = NEW.cosigned_by_id)
     AND (to_jsonb(NEW) - loose) = (to_jsonb(OLD) - loose) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '{LOCK}: this meeting is signed and locked' USING ERRCODE = 'integrity_constraint_violation';
END $$
"""

_PG_CHILD = f"""
CREATE OR REPLACE FUNCTION iop_lock_meeting_part() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  locked boolean;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT (m.status = 'signed' OR m.signed_at IS NOT NULL) INTO locked FROM meeting m WHERE m.id = OLD.meeting_id FOR SHARE;
    IF locked THEN
      RAISE EXCEPTION '{LOCK}: % of a signed meeting is locked', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT (m.status = 'signed' OR m.signed_at IS NOT NULL) INTO locked FROM meeting m WHERE m.id = NEW.meeting_id FOR SHARE;
    IF locked THEN
      RAISE EXCEPTION '{LOCK}: % of a signed meeting is locked', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
    END IF;
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

_PG_COSIGN = f"""
CREATE OR REPLACE FUNCTION iop_lock_cosign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM meeting m WHERE m.id = NEW.meeting_id AND m.cosigned_at IS NOT NULL) THEN
    RAISE EXCEPTION '{LOCK}: this meeting is already co-signed' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$
"""

_PG_NO_TRUNCATE = f"""
CREATE OR REPLACE FUNCTION iop_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{LOCK}: % holds signed records and cannot be truncated', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$
"""

_PG_HISTORY = """
CREATE OR REPLACE FUNCTION iop_row_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO row_history (id, created_at, table_name, row_id, operation, changed_at, old_row)
  VALUES (gen_random_uuid(), clock_timestamp(), TG_TABLE_NAME, replace(OLD.id::text, '-', ''), lower(TG_OP),
          clock_timestamp(), to_jsonb(OLD));
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$
"""
PG_FUNCTIONS = ("iop_lock_meeting", "iop_lock_meeting_part", "iop_append_only", "iop_lock_cosign",
                "iop_no_truncate", "iop_row_history")


def _pg_create() -> list[str]:
    sql = [
        _PG_MEETING, _PG_CHILD, _PG_APPEND_ONLY, _PG_COSIGN, _PG_NO_TRUNCATE, _PG_HISTORY,
        "CREATE TRIGGER iop_lock_meeting BEFORE UPDATE OR DELETE ON meeting FOR EACH ROW EXECUTE FUNCTION iop_lock_meeting()",
        "CREATE TRIGGER iop_lock_meeting_truncate BEFORE TRUNCATE ON meeting FOR EACH STATEMENT EXECUTE FUNCTION iop_no_truncate()",
    ]
    for table in CHILDREN:
        sql.append(
            f"CREATE TRIGGER iop_lock_{table} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION iop_lock_meeting_part()"
        )
        sql.append(
            f"CREATE TRIGGER iop_lock_{table}_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION iop_no_truncate()"
        )
    for table in APPEND_ONLY:
        sql.append(
            f"CREATE TRIGGER iop_lock_{table} BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION iop_append_only()"
        )
        sql.append(
            f"CREATE TRIGGER iop_lock_{table}_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION iop_append_only()"
        )
    sql.append(
        "CREATE TRIGGER iop_lock_signed_cosign_insert BEFORE INSERT ON signed_cosign "
        "FOR EACH ROW EXECUTE FUNCTION iop_lock_cosign()"
    )
    for table in HISTORY:
        sql.append(
            f"CREATE TRIGGER iop_history_{table} AFTER UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION iop_row_history()"
        )
    return sql


def _pg_drop() -> list[str]:
    sql = ["DROP TRIGGER IF EXISTS iop_lock_meeting ON meeting", "DROP TRIGGER IF EXISTS iop_lock_meeting_truncate ON meeting"]
    for t in CHILDREN + APPEND_ONLY:
        sql += [f"DROP TRIGGER IF EXISTS iop_lock_{t} ON {t}", f"DROP TRIGGER IF EXISTS iop_lock_{t}_truncate ON {t}"]
    sql.append("DROP TRIGGER IF EXISTS iop_lock_signed_cosign_insert ON signed_cosign")
    sql += [f"DROP TRIGGER IF EXISTS iop_history_{t} ON {t}" for t in HISTORY]
    sql += [f"DROP FUNCTION IF EXISTS {name}()" for name in PG_FUNCTIONS]
    return sql


def _pg_old_drop() -> list[str]:
    """The 0005 triggers (functions are replaced in place)."""
    sql = ["DROP TRIGGER IF EXISTS iop_lock_meeting ON meeting"]
    sql += [f"DROP TRIGGER IF EXISTS iop_lock_{t} ON {t}" for t in ("attendance", "progress_note", "story_note", "safety_event")]
    for t in ("addendum", "audit_event"):
        sql += [f"DROP TRIGGER IF EXISTS iop_lock_{t} ON {t}", f"DROP TRIGGER IF EXISTS iop_lock_{t}_truncate ON {t}"]
    return sql


# ----------------------------------------------------------------------------- frozen hashing

_STORAGE = "%Y-%m-%d %H:%M:%S.%f"
SNAPSHOT_FIELDS = (
    ("meeting_id", "id"), ("source", "str"), ("clinic_name", "str"), ("timezone", "str"),
    ("disclosure_version", "str"), ("group_name", "str"), ("group_type", "str"), ("level_of_care", "str"),
    ("audience", "str"), ("modality", "str"), ("location", "str"), ("local_start", "str"), ("local_end", "str"),
    ("facilitator_name", "str"), ("facilitator_credentials", "str"), ("co_facilitator_name", "str"),
    ("co_facilitator_credentials", "str"), ("signer_name", "str"), ("requires_cosign", "bool"),
    ("topic_title", "str"), ("service_code", "str"),
)
SIGNED_MEMBER_FIELDS = (("member_id", "id"), ("display_name", "str"), ("chart_id", "str"), ("goals", "json"))
COSIGN_FIELDS = (
    ("meeting_id", "id"), ("cosigner_id", "id"), ("cosigner_name", "str"), ("cosigner_credentials", "str"),
    ("cosigned_at", "dt"),
)
ADDENDUM_FIELDS = (
    ("id", "id"), ("meeting_id", "id"), ("member_id", "id"), ("author_id", "id"), ("author_credentials", "str"),
    ("reason", "str"), ("text", "str"), ("created_at", "dt"),
)


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _norm(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "str":
        return str(value)
    if kind == "id":
        return value.hex if isinstance(value, uuid.UUID) else str(value).replace("-", "").lower()
    if kind == "dt":
        if isinstance(value, str) and len(value) == 26 and value[10] == " ":
            return value
        return _utc(value).strftime(_STORAGE)
    if kind == "json":
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    if kind == "bool":
        return 1 if value else 0
    raise ValueError(kind)


def _row(values: dict[str, Any], fields: Sequence[tuple[str, str]]) -> list[Any]:
    return [_norm(kind, values.get(name)) for name, kind in fields]


def _sha(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(text).hexdigest()


def _snapshot_hash(snapshot: dict[str, Any], members: list[dict[str, Any]]) -> str:
    rows = sorted((_row(m, SIGNED_MEMBER_FIELDS) for m in members), key=lambda r: r[0])
    return _sha({"v": 1, "snapshot": _row(snapshot, SNAPSHOT_FIELDS), "members": rows})


def _cosign_hash(row: dict[str, Any]) -> str:
    return _sha({"v": 1, "cosign": _row(row, COSIGN_FIELDS)})


def _addendum_hash(row: dict[str, Any]) -> str:
    return _sha({"v": 1, "addendum": _row(row, ADDENDUM_FIELDS)})


def _bulk_digest(lines: list[str]) -> str:
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode("ascii") + b"\n")
    return digest.hexdigest()


def _entry_hash(seq: int, occurred_at: dt.datetime, actor: str, action: str, details: dict[str, Any], prev: str) -> str:
    body = {
        "seq": seq, "occurred_at": occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "actor": actor,
        "action": action, "record_type": "", "record_id": None, "details": details,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    digest = hashlib.sha256(text)
    digest.update(prev.encode("ascii"))
    return digest.hexdigest()


def _service_code(codes: dict[str, str], level: str, modality: str) -> str:
    """The attended member's code(s), as the billing rule computed them at this upgrade."""
    def get(key: str) -> str:
        return (codes.get(key) or "").strip()

    per_diem = get("iop_per_diem") or get("sud_iop_per_diem") or get("mh_iop_per_diem")
    tele = get("telehealth_modifier") if modality == "telehealth" else ""
    code, mods = get("group_psychotherapy"), []
    if level == "IOP" and per_diem:
        code, mods = per_diem, [get("group_modifier")]
    elif level == "PHP" and get("php_per_diem"):
        code, mods = get("php_per_diem"), [get("group_modifier")]
    if not code:
        return ""
    return "-".join([code, *(m for m in (*mods, tele) if m)])


def _local(value: Any, zone: Any) -> str:
    utc = _utc(value)
    return utc.astimezone(zone).strftime("%Y-%m-%d %H:%M") if utc else ""


# ----------------------------------------------------------------------------- data steps

BATCH = 500


def _tables() -> dict[str, sa.Table]:
    snap = op.create_table(
        'signed_snapshot',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('meeting_id', sa.Uuid(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('clinic_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('disclosure_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('group_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('group_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('level_of_care', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('audience', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('modality', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('location', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('local_start', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('local_end', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('facilitator_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('facilitator_credentials', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('co_facilitator_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('co_facilitator_credentials', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('signer_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('requires_cosign', sa.Boolean(), nullable=False),
        sa.Column('topic_title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('service_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('snapshot_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('anchor_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_signed_snapshot_meeting_id_meeting')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_snapshot')),
        sa.UniqueConstraint('meeting_id', name=op.f('uq_signed_snapshot_meeting_id')),
    )
    with op.batch_alter_table('signed_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_snapshot_requires_cosign'), ['requires_cosign'], unique=False)
    member = op.create_table(
        'signed_member',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('meeting_id', sa.Uuid(), nullable=False),
        sa.Column('member_id', sa.Uuid(), nullable=False),
        sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('chart_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('goals', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_signed_member_meeting_id_meeting')),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_signed_member_member_id_member')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_member')),
        sa.UniqueConstraint('meeting_id', 'member_id', name=op.f('uq_signed_member_meeting_id')),
    )
    with op.batch_alter_table('signed_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_member_meeting_id'), ['meeting_id'], unique=False)
    cosign = op.create_table(
        'signed_cosign',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('meeting_id', sa.Uuid(), nullable=False),
        sa.Column('cosigner_id', sa.Uuid(), nullable=True),
        sa.Column('cosigner_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('cosigner_credentials', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('cosigned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('cosign_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('anchor_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(['cosigner_id'], ['staff.id'], name=op.f('fk_signed_cosign_cosigner_id_staff')),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_signed_cosign_meeting_id_meeting')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_cosign')),
        sa.UniqueConstraint('meeting_id', name=op.f('uq_signed_cosign_meeting_id')),
    )
    op.create_table(
        'row_history',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('row_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('operation', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('old_row', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_row_history')),
    )
    with op.batch_alter_table('row_history', schema=None) as batch_op:
        batch_op.create_index('ix_row_history_row', ['table_name', 'row_id', 'changed_at'], unique=False)
    return {"snapshot": snap, "member": member, "cosign": cosign}


def _row_progress() -> Any:
    """``rows(done, total)`` for the upgrade's progress display, when the caller asked for one."""
    from alembic import context

    try:
        report = context.config.attributes.get("rows")
    except Exception:  # noqa: BLE001 - no migration context (a unit test calling the backfill)
        report = None
    return report or (lambda _done, _total: None)


def _backfill(conn: sa.Connection, tables: dict[str, sa.Table]) -> None:
    from zoneinfo import ZoneInfo

    settings = conn.execute(
        sa.text("SELECT clinic_name, timezone, disclosure_notice, service_codes FROM program_settings LIMIT 1")
    ).first()
    clinic, tz, notice, codes = (settings if settings is not None else ("", "UTC", "", "{}"))
    tz = tz or "UTC"
    codes = json.loads(codes) if isinstance(codes, (str, bytes)) else (codes or {})
    try:
        zone = ZoneInfo(tz)
    except Exception:  # noqa: BLE001 - an unknown zone name: keep UTC clock times, the zone name is kept
        zone = dt.UTC
    version = hashlib.sha256(" ".join((notice or "").split()).encode("utf-8")).hexdigest()[:16]
    uid = sa.column("id", sa.Uuid())
    staff = {
        _norm("id", r[0]): (r[1] or "", r[2] or "", bool(r[3]))
        for r in conn.execute(sa.text("SELECT id, name, credentials, requires_cosign FROM staff"))
    }
    groups = {
        _norm("id", r[0]): tuple(str(v or "") for v in r[1:])
        for r in conn.execute(sa.text("SELECT id, name, group_type, level_of_care, audience FROM therapy_group"))
    }
    ids = [
        r[0] for r in conn.execute(
            sa.text(f"SELECT id FROM meeting WHERE {SIGNED} ORDER BY local_date, id").columns(uid)
        )
    ]
    anchor = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    lines: list[str] = []
    cosigns = 0
    report = _row_progress()
    for start in range(0, len(ids), BATCH):
        report(start, len(ids))
        batch = ids[start: start + BATCH]
        expand = sa.bindparam("ids", expanding=True, type_=sa.Uuid())
        meetings = conn.execute(
            sa.text(
                "SELECT id, group_id, actual_start, actual_end, modality, location, facilitator_id, co_facilitator_id, "
                "signed_by_id, content_hash, cosigned_by_id, cosigned_at, cosigner_credentials "
                "FROM meeting WHERE id IN :ids"
            ).bindparams(expand),
            {"ids": batch},
        ).mappings().all()
        people: dict[str, list[tuple[Any, ...]]] = {}
        for r in conn.execute(
            sa.text(
                "SELECT a.meeting_id, a.member_id, m.display_name, m.external_chart_id FROM attendance a "
                "JOIN member m ON m.id = a.member_id WHERE a.meeting_id IN :ids"
            ).bindparams(expand),
            {"ids": batch},
        ):
            people.setdefault(_norm("id", r[0]), []).append((r[1], r[2], r[3]))
        chosen: dict[tuple[str, str], list[str]] = {}
        wanted: set[str] = set()
        for r in conn.execute(
            sa.text("SELECT meeting_id, member_id, goal_ids FROM progress_note WHERE meeting_id IN :ids").bindparams(expand),
            {"ids": batch},
        ):
            picked = [str(g) for g in (_norm("json", r[2]) or [])]
            chosen[(_norm("id", r[0]), _norm("id", r[1]))] = picked
            wanted.update(picked)
        goals: dict[str, tuple[int, str]] = {}
        valid = []
        for g in wanted:
            try:
                valid.append(uuid.UUID(g))
            except ValueError:
                continue
        if valid:
            for r in conn.execute(
                sa.text("SELECT id, position, text FROM goal WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True, type_=sa.Uuid())
                ),
                {"ids": valid},
            ):
                goals[str(uuid.UUID(_norm("id", r[0])))] = (int(r[1]), str(r[2] or ""))
        snaps, members, cosign_rows = [], [], []
        for m in meetings:
            key = _norm("id", m["id"])
            name, gtype, level, audience = groups.get(_norm("id", m["group_id"]), ("", "", "", ""))
            lead = staff.get(_norm("id", m["facilitator_id"])) if m["facilitator_id"] else None
            co = staff.get(_norm("id", m["co_facilitator_id"])) if m["co_facilitator_id"] else None
            signer = staff.get(_norm("id", m["signed_by_id"])) if m["signed_by_id"] else None
            modality = str(m["modality"] or "")
            snap = {
                "id": uuid.uuid4(), "created_at": now, "meeting_id": uuid.UUID(hex=key), "source": "migration",
                "clinic_name": clinic or "", "timezone": tz, "disclosure_version": version,
                "group_name": name, "group_type": gtype, "level_of_care": level, "audience": audience,
                "modality": modality, "location": str(m["location"] or ""),
                "local_start": _local(m["actual_start"], zone), "local_end": _local(m["actual_end"], zone),
                "facilitator_name": lead[0] if lead else "", "facilitator_credentials": lead[1] if lead else "",
                "co_facilitator_name": co[0] if co else "", "co_facilitator_credentials": co[1] if co else "",
                "signer_name": signer[0] if signer else "",
                "requires_cosign": bool((lead and lead[2]) or (signer and signer[2])),
                "topic_title": "", "service_code": _service_code(codes, level, modality),
                "anchor_id": anchor.hex,
            }
            mine = []
            for member_id, display, chart in people.get(key, ()):
                mid = _norm("id", member_id)
                picked = [g for g in chosen.get((key, mid), []) if g in goals]
                mine.append({
                    "id": uuid.uuid4(), "created_at": now, "meeting_id": uuid.UUID(hex=key),
                    "member_id": uuid.UUID(hex=mid), "display_name": str(display or ""), "chart_id": chart,
                    "goals": [[g, goals[g][0], goals[g][1]] for g in picked],
                })
            snap["snapshot_hash"] = _snapshot_hash(snap, mine)
            snaps.append(snap)
            members.extend(mine)
            lines.append(f"m:{key}:{m['content_hash'] or ''}:{snap['snapshot_hash']}")
            if m["cosigned_at"] is not None:
                person = staff.get(_norm("id", m["cosigned_by_id"])) if m["cosigned_by_id"] else None
                row = {
                    "id": uuid.uuid4(), "created_at": now, "meeting_id": uuid.UUID(hex=key),
                    "cosigner_id": uuid.UUID(hex=_norm("id", m["cosigned_by_id"])) if m["cosigned_by_id"] else None,
                    "cosigner_name": person[0] if person else "",
                    "cosigner_credentials": str(m["cosigner_credentials"] or ""),
                    "cosigned_at": _utc(m["cosigned_at"]), "anchor_id": anchor.hex,
                }
                row["cosign_hash"] = _cosign_hash(row)
                cosign_rows.append(row)
                lines.append(f"c:{key}:{row['cosign_hash']}")
        if snaps:
            conn.execute(tables["snapshot"].insert(), snaps)
        if members:
            conn.execute(tables["member"].insert(), members)
        if cosign_rows:
            conn.execute(tables["cosign"].insert(), cosign_rows)
        cosigns += len(cosign_rows)
    report(len(ids), len(ids))
    addenda = []
    for r in conn.execute(
        sa.text(
            "SELECT id, meeting_id, member_id, author_id, author_credentials, reason, text, created_at FROM addendum"
        )
    ).mappings():
        row = dict(r)
        addenda.append(_norm("id", row["id"]))
        lines.append(f"a:{_norm('id', row['id'])}:{_addendum_hash(row)}")
    if not lines:
        return
    details = {
        "meetings": len(ids), "cosignatures": cosigns, "addenda": sorted(addenda),
        "digest": _bulk_digest(lines), "anchor": anchor.hex, "migration": "0006",
    }
    last = conn.execute(
        sa.text("SELECT seq, entry_hash FROM audit_event WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    ).first()
    seq, prev = (int(last[0]) + 1, last[1] or "") if last else (1, "0" * 64)
    actor, action = "system:upgrade", "integrity.backfill"
    events = sa.table(
        "audit_event", sa.column("id", sa.Uuid()), sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("occurred_at", sqlmodel.sql.sqltypes.UTCDateTime()), sa.column("actor"), sa.column("action"),
        sa.column("record_type"), sa.column("record_id"), sa.column("details", sa.JSON()), sa.column("seq"),
        sa.column("prev_hash"), sa.column("entry_hash"),
    )
    conn.execute(events.insert(), [{
        "id": anchor, "created_at": now, "occurred_at": now, "actor": actor, "action": action, "record_type": "",
        "record_id": None, "details": details, "seq": seq, "prev_hash": prev,
        "entry_hash": _entry_hash(seq, now, actor, action, details, prev),
    }])


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    tables = _tables()
    for statement in (
        [f"DROP TRIGGER IF EXISTS {n}" for n in OLD_SQLITE_TRIGGERS] if sqlite else _pg_old_drop()
    ):
        op.execute(statement)
    _backfill(conn, tables)
    for statement in _sqlite_create() if sqlite else _pg_create():
        op.execute(statement)


def downgrade() -> None:
    conn = op.get_bind()
    for statement in _sqlite_drop() if conn.dialect.name == "sqlite" else _pg_drop():
        op.execute(statement)
    op.drop_table('row_history')
    op.drop_table('signed_cosign')
    op.drop_table('signed_member')
    op.drop_table('signed_snapshot')
    # Back to 0005's triggers, with 0005's own definitions (the file beside this one).
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("iop_migration_0005", Path(__file__).with_name("0005_signed_lock.py"))
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    for statement in previous._sqlite_create() if conn.dialect.name == "sqlite" else previous._pg_create():
        op.execute(statement)
