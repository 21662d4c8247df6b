"""the live meeting under real hands: authors of check-in edits, app-drafted fields, where the meeting stood

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:17:48

* ``attendance.updated_by_id``: the staff member who last changed the row in the app.
* ``progress_note.drafted`` and ``meeting.narrative_drafted``: hashes of the text the app
  drafted, so a drafted field nobody edited can be redrafted when its facts change.
* ``meeting_view``: the step's focused widget, the member under each step's cursor and the
  segment timer of a meeting, so reopening it (even after a crash) returns to where it was.
  Screen state, not the record: no lock trigger, not in any hash.

No table with lock triggers is rebuilt on SQLite (a batch "move and copy" would drop its
triggers): columns are added, and dropped on downgrade, with SQLite's own ``ALTER TABLE``
(``DROP COLUMN`` needs SQLite 3.35). The SQLite trigger that freezes a signed meeting lists
the meeting's columns, so it is created again with ``narrative_drafted`` in its list
(``db/locks.py`` holds its new fingerprint); PostgreSQL's compares whole rows and needs
nothing. Self-contained: the trigger's text is a frozen copy of migration 0006's.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK = "iop-lock"
SIGNED = "(status = 'signed' OR signed_at IS NOT NULL)"
# Every meeting column except the co-signature, version and updated_at, as of schema 0006/0007.
MEETING_FROZEN_0007 = (
    "id", "created_at", "group_id", "local_date", "scheduled_start", "scheduled_end", "actual_start",
    "actual_end", "modality", "location", "facilitator_id", "co_facilitator_id", "topic_id",
    "topic_version", "topic_hash", "status", "group_narrative", "note_format", "homework", "flow_step",
    "topic_notes", "prompts_done", "signed_by_id", "signed_at", "signer_credentials", "content_hash",
)
MEETING_FROZEN_0008 = (*MEETING_FROZEN_0007, "narrative_drafted")


def _signed(ref: str) -> str:
    return f"EXISTS (SELECT 1 FROM meeting WHERE id = {ref} AND {SIGNED})"


def _meeting_update_trigger(frozen: tuple[str, ...]) -> str:
    """Migration 0006's SQLite meeting update guard, with ``frozen`` as its unchanged columns."""
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in frozen)
    cosign_only = (
        "OLD.cosigned_by_id IS NULL AND OLD.cosigned_at IS NULL AND OLD.cosigner_credentials IS NULL "
        "AND NEW.cosigned_by_id IS NOT NULL AND NEW.cosigned_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM signed_cosign WHERE meeting_id = OLD.id AND cosigner_id IS NEW.cosigned_by_id) "
        f"AND {unchanged}"
    )
    old_signed = "(OLD.status = 'signed' OR OLD.signed_at IS NOT NULL)"
    locked = f"'{LOCK}: this meeting is signed and locked'"
    return f"""CREATE TRIGGER iop_lock_meeting_update BEFORE UPDATE ON meeting
        WHEN ({old_signed} AND NOT ({cosign_only})) OR (NEW.id IS NOT OLD.id AND {_signed('NEW.id')})
        BEGIN SELECT RAISE(ABORT, {locked}); END"""


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        'meeting_view',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('meeting_id', sa.Uuid(), nullable=False),
        sa.Column('focus', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('cursors', sa.JSON(), nullable=False),
        sa.Column('segment_topic', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('segment_index', sa.Integer(), nullable=False),
        sa.Column('segment_elapsed', sa.JSON(), nullable=False),
        sa.Column('segment_running_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_meeting_view_meeting_id_meeting')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_view')),
        sa.UniqueConstraint('meeting_id', name=op.f('uq_meeting_view_meeting_id')),
    )
    if sqlite:
        # SQLite's ADD COLUMN keeps the table (and its lock triggers); a column constraint names the key.
        op.execute(
            "ALTER TABLE attendance ADD COLUMN updated_by_id CHAR(32) "
            "CONSTRAINT fk_attendance_updated_by_id_staff REFERENCES staff (id)"
        )
    else:
        op.add_column('attendance', sa.Column('updated_by_id', sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f('fk_attendance_updated_by_id_staff'), 'attendance', 'staff',
                              ['updated_by_id'], ['id'])
    op.add_column('meeting', sa.Column('narrative_drafted', sqlmodel.sql.sqltypes.AutoString(length=64),
                                       nullable=True))
    op.add_column('progress_note', sa.Column('drafted', sa.JSON(), server_default='{}', nullable=False))
    if sqlite:
        # The new meeting column is frozen by signing too (PostgreSQL's guard compares whole rows).
        op.execute("DROP TRIGGER IF EXISTS iop_lock_meeting_update")
        op.execute(_meeting_update_trigger(MEETING_FROZEN_0008))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS iop_lock_meeting_update")
        for table, column in (("progress_note", "drafted"), ("meeting", "narrative_drafted"),
                              ("attendance", "updated_by_id")):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # in place: the triggers stay
        op.execute(_meeting_update_trigger(MEETING_FROZEN_0007))
    else:
        op.drop_column('progress_note', 'drafted')
        op.drop_column('meeting', 'narrative_drafted')
        op.drop_constraint(op.f('fk_attendance_updated_by_id_staff'), 'attendance', type_='foreignkey')
        op.drop_column('attendance', 'updated_by_id')
    op.drop_table('meeting_view')
