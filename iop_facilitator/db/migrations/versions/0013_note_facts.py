"""note facts: what each member did, in the terms a payer's reviewer looks for (issue 13)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:35:56

* ``note_facts``: one row per member and meeting (see ``models.NoteFacts``): progress per
  addressed goal, participation, affect and presentation, the risk screen (linked to the
  meeting's safety event), substance use since the last session, the leader's own
  observation, and the text sections of BIRP, DAP and SOAP that ``progress_note`` does
  not hold.
* It is a part of the meeting: the same lock triggers as ``progress_note`` (SQLite: BEFORE
  INSERT/UPDATE/DELETE guards of migration 0006's form; PostgreSQL: 0006's
  ``iop_lock_meeting_part()`` function and ``iop_no_truncate()``), fingerprints in
  ``db/locks.py``.

* ``program_settings.no_change_limit`` (default 3): the payer lens flags a goal rated "no change"
  in this many of a member's notes in a row. SQLite's history triggers of ``program_settings``
  list its columns, so they are created again with the new one (0006's form, frozen here);
  PostgreSQL's copy whole rows and need nothing.

Existing rows are not rewritten: a meeting without note facts keeps its progress notes
exactly as they are (GIRP: goal ids, intervention, response, plan), its content hash stays
format 1 or 2, and nothing signed changes. A note written before this schema simply has no
facts until the leader records them (the payer lens then says what is missing).

Self-contained: the trigger text is a frozen copy of migration 0006's child-table guards.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK = "iop-lock"
SIGNED = "(status = 'signed' OR signed_at IS NOT NULL)"
TABLE = "note_facts"


def _signed(ref: str) -> str:
    return f"EXISTS (SELECT 1 FROM meeting WHERE id = {ref} AND {SIGNED})"


def _sqlite_triggers(table: str) -> list[str]:
    """Migration 0006's guards of a meeting part (frozen copy)."""
    message = f"'{LOCK}: {table} of a signed meeting is locked'"
    taken = f"EXISTS (SELECT 1 FROM {table} x WHERE x.id = NEW.id AND {_signed('x.meeting_id')})"
    return [
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


# program_settings' columns as of schema 0008 (migration 0006's HISTORY entry; 0011 and 0012 leave
# them alone), then 0013's.
SETTINGS_0008 = (
    "id", "created_at", "updated_at", "version", "clinic_name", "timezone", "crisis_resources",
    "crisis_steps", "disclosure_notice", "max_absences", "absence_window_weeks", "service_codes",
    "weekly_hours_adult", "weekly_hours_adolescent", "per_diem_daily_hours", "is_demo", "idle_lock_minutes",
)
SETTINGS_0013 = (*SETTINGS_0008, "no_change_limit")


def _settings_history(columns: tuple[str, ...]) -> list[str]:
    """Migration 0006's SQLite history triggers of program_settings, over ``columns`` (frozen copy)."""
    now = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"
    old = ", ".join(f"'{c}', OLD.{c}" for c in columns)
    sql = []
    for what in ("update", "delete"):
        sql.append(f"DROP TRIGGER IF EXISTS iop_history_program_settings_{what}")
        sql.append(
            f"""CREATE TRIGGER iop_history_program_settings_{what} AFTER {what.upper()} ON program_settings
                BEGIN INSERT INTO row_history (id, created_at, table_name, row_id, operation, changed_at, old_row)
                VALUES (lower(hex(randomblob(16))), {now}, 'program_settings', OLD.id, '{what}', {now}, json_object({old})); END"""
        )
    return sql


def _pg_triggers(table: str) -> list[str]:
    return [
        (f"CREATE TRIGGER iop_lock_{table} BEFORE INSERT OR UPDATE OR DELETE ON {table} "
         "FOR EACH ROW EXECUTE FUNCTION iop_lock_meeting_part()"),
        (f"CREATE TRIGGER iop_lock_{table}_truncate BEFORE TRUNCATE ON {table} "
         "FOR EACH STATEMENT EXECUTE FUNCTION iop_no_truncate()"),
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        TABLE,
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Uuid(), nullable=False),
        sa.Column('member_id', sa.Uuid(), nullable=False),
        sa.Column('goal_progress', sa.JSON(), nullable=False),
        sa.Column('participation', sa.Enum('active', 'engaged_when_prompted', 'minimal', 'listened', 'disruptive',
                                           name='participation', native_enum=False, length=32), nullable=True),
        sa.Column('affect', sa.JSON(), nullable=False),
        sa.Column('presentation', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('risk_screen', sa.Enum('denied', 'endorsed', name='riskscreen', native_enum=False, length=32),
                  nullable=True),
        sa.Column('safety_event_id', sa.Uuid(), nullable=True),
        sa.Column('substance_use', sa.Enum('none', 'used', 'declined', name='usereport', native_enum=False,
                                           length=32), nullable=True),
        sa.Column('use_detail', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('observation', sa.Text(), nullable=False),
        sa.Column('behavior', sa.Text(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('assessment', sa.Text(), nullable=False),
        sa.Column('subjective', sa.Text(), nullable=False),
        sa.Column('objective', sa.Text(), nullable=False),
        sa.Column('drafted', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_note_facts_meeting_id_meeting')),
        sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_note_facts_member_id_member')),
        sa.ForeignKeyConstraint(['safety_event_id'], ['safety_event.id'],
                                name=op.f('fk_note_facts_safety_event_id_safety_event')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_note_facts')),
        sa.UniqueConstraint('meeting_id', 'member_id', name=op.f('uq_note_facts_meeting_id')),
    )
    # A plain CREATE INDEX (no batch rebuild: the triggers below must stay).
    op.create_index(op.f('ix_note_facts_member_id'), TABLE, ['member_id'], unique=False)
    for sql in (_sqlite_triggers(TABLE) if sqlite else _pg_triggers(TABLE)):
        op.execute(sql)
    # ADD COLUMN in place (a batch rebuild would drop the table's history triggers).
    op.add_column('program_settings', sa.Column('no_change_limit', sa.Integer(), server_default='3', nullable=False))
    if sqlite:
        for sql in _settings_history(SETTINGS_0013):
            op.execute(sql)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for sql in _settings_history(SETTINGS_0008)[::2]:  # drop them before the column goes
            op.execute(sql)
        op.execute("ALTER TABLE program_settings DROP COLUMN no_change_limit")  # in place: the triggers stay
        for sql in _settings_history(SETTINGS_0008):
            op.execute(sql)
    else:
        op.drop_column('program_settings', 'no_change_limit')
    if sqlite:
        for what in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS iop_lock_{TABLE}_{what}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS iop_lock_{TABLE} ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS iop_lock_{TABLE}_truncate ON {TABLE}")
    op.drop_index(op.f('ix_note_facts_member_id'), table_name=TABLE)
    op.drop_table(TABLE)
