"""coordinator link attempts: wrong invite codes are counted per LINE user

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coordinator_link_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_attempts_user", "coordinator_link_attempts", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_link_attempts_user", table_name="coordinator_link_attempts")
    op.drop_table("coordinator_link_attempts")
