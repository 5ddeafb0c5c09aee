"""queue index: the console queue's counts and its order read the open tickets from one covering
index (state, level, area, claimer, and the times the deadlines come from)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 21:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = [
    "state",
    "level",
    "province",
    "region",
    "claimed_by",
    "created_at",
    "claimed_at",
    "last_reply_at",
]


def upgrade() -> None:
    op.create_index("ix_tickets_queue", "tickets", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_tickets_queue", table_name="tickets")
