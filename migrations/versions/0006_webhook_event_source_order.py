"""webhook events: the source they belong to (handled in order) and a retry time of their own

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_events", sa.Column("source_key", sa.String(length=64), nullable=True))
    op.add_column(
        "webhook_events",
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    # Events still waiting keep their user's order; group and room events stored before this
    # revision only carry the user id, which is close enough for the few left in the queue.
    op.execute(
        "UPDATE webhook_events SET source_key = user_id "
        "WHERE handled_at IS NULL AND user_id IS NOT NULL"
    )
    op.create_index(
        "ix_webhook_events_source_queue",
        "webhook_events",
        ["source_key", "id"],
        postgresql_where=sa.text("handled_at IS NULL"),
        sqlite_where=sa.text("handled_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_source_queue", table_name="webhook_events")
    op.drop_column("webhook_events", "next_attempt_at")
    op.drop_column("webhook_events", "source_key")
