"""verify checkpoints: how far iop db verify has checked, hash-chained

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:45:00

* ``verify_checkpoint``: one row per verification that found nothing wrong (the audit
  chain's position and head, the signed records counted, the row history's cut, count
  and chained digest), each row hashed with the previous one's hash
  (``models.VerifyCheckpoint``; ``services.integrity`` writes and checks them).
* ``ix_row_history_created_at``: the next verification reads only the row history
  written after the last checkpoint's cut.

Only a new table and an index: no table with lock triggers is rebuilt on SQLite.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'verify_checkpoint',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('verified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('audit_seq', sa.Integer(), nullable=False),
        sa.Column('audit_head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('meetings', sa.Integer(), nullable=False),
        sa.Column('snapshots', sa.Integer(), nullable=False),
        sa.Column('cosignatures', sa.Integer(), nullable=False),
        sa.Column('addenda', sa.Integer(), nullable=False),
        sa.Column('history_cut', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('history_rows', sa.Integer(), nullable=False),
        sa.Column('history_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('checkpoint_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_verify_checkpoint')),
        sa.UniqueConstraint('seq', name=op.f('uq_verify_checkpoint_seq')),
    )
    with op.batch_alter_table('row_history', schema=None) as batch_op:
        batch_op.create_index('ix_row_history_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('row_history', schema=None) as batch_op:
        batch_op.drop_index('ix_row_history_created_at')
    op.drop_table('verify_checkpoint')
