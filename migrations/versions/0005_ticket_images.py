"""ticket images: any number per ticket, moved out of the tickets table

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 18:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_images_ticket_id", "ticket_images", ["ticket_id"])
    # The one screenshot a ticket could hold so far moves over, then its columns go.
    op.execute(
        "INSERT INTO ticket_images (ticket_id, content, content_type, sender, created_at) "
        "SELECT id, image, COALESCE(image_type, 'image/jpeg'), 'volunteer', created_at "
        "FROM tickets "
        "WHERE image IS NOT NULL"
    )
    # Plain ALTER TABLE (SQLite ≥ 3.35 has DROP COLUMN): a batch copy of `tickets` would trip
    # the foreign keys that already point at it.
    op.drop_column("tickets", "image")
    op.drop_column("tickets", "image_type")


def downgrade() -> None:
    op.add_column("tickets", sa.Column("image", sa.LargeBinary(), nullable=True))
    op.add_column("tickets", sa.Column("image_type", sa.String(length=40), nullable=True))
    # Only the first image of each ticket fits the old shape.
    first = (
        "(SELECT {column} FROM ticket_images i WHERE i.ticket_id = tickets.id "
        "AND i.sender = 'volunteer' ORDER BY i.id LIMIT 1)"
    )
    op.execute(
        f"UPDATE tickets SET image = {first.format(column='content')}, "
        f"image_type = {first.format(column='content_type')}"
    )
    op.drop_index("ix_ticket_images_ticket_id", table_name="ticket_images")
    op.drop_table("ticket_images")
