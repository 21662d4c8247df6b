"""indexes for scoped staff commands: a day's or a member's answer costs that scope's rows

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-03 17:00:00

* ``ix_meeting_scheduled_start``: ``iop meeting list --limit N`` (newest first) reads the
  newest N meetings from the index instead of sorting the clinic's whole history.
* ``ix_signed_member_member_name``: the notes export's redaction reads every name a member
  was signed under from this covering index instead of sorting one row per member per
  signed meeting.

Indexes only: SQLite adds them without rebuilding a table (a rebuild would drop the lock
triggers of migration 0005), PostgreSQL inside the upgrade's one transaction.
"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_meeting_scheduled_start', 'meeting', ['scheduled_start'], unique=False)
    op.create_index('ix_signed_member_member_name', 'signed_member', ['member_id', 'display_name'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_signed_member_member_name', table_name='signed_member')
    op.drop_index('ix_meeting_scheduled_start', table_name='meeting')
