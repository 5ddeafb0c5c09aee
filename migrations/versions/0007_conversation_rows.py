"""conversation rows: a ticket's messages as an append-only table, draft screenshots as
ticket_images without a ticket, conversation states typed and versioned

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 15:10:00
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

messages = sa.table(
    "ticket_messages",
    sa.column("id", sa.Integer),
    sa.column("ticket_id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("sender", sa.String),
    sa.column("text", sa.Text),
    sa.column("image_id", sa.Integer),
    sa.column("faq_topic", sa.String),
)


def _as_list(value: object) -> list:
    if isinstance(value, str):  # SQLite hands JSON back as text through plain SQL
        value = json.loads(value or "[]")
    return value if isinstance(value, list) else []


def _aware(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def upgrade() -> None:
    bind = op.get_bind()
    # Drafts: a screenshot sent while a report is written has no ticket yet, only its owner.
    # (Batch: SQLite rebuilds the table; nothing points at it yet.)
    with op.batch_alter_table("ticket_images") as batch:
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.create_index("ix_ticket_images_owner", ["owner", "ticket_id"])
    op.execute(
        "UPDATE ticket_images SET owner = "
        "(SELECT user_id FROM tickets WHERE tickets.id = ticket_images.ticket_id) "
        "WHERE sender = 'volunteer'"
    )

    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("faq_topic", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["image_id"], ["ticket_images.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_messages_ticket", "ticket_messages", ["ticket_id", "id"])
    # Each ticket's JSON list becomes rows, in order. Old entries have no time of their own:
    # they get the ticket's creation time (the row order keeps their sequence).
    rows = []
    tickets = bind.execute(sa.text("SELECT id, conversation, claimed_by, created_at FROM tickets"))
    for ticket_id, conversation, claimed_by, created_at in tickets:
        for said in _as_list(conversation):
            if not isinstance(said, dict):
                continue
            sender = "volunteer"
            if said.get("from") == "coordinator":
                sender = f"coordinator:{claimed_by}" if claimed_by else "coordinator"
            image = said.get("image")
            rows.append(
                {
                    "ticket_id": ticket_id,
                    "at": _aware(created_at),
                    "sender": sender,
                    "text": str(said.get("text", "")),
                    "image_id": image if isinstance(image, int) else None,
                    "faq_topic": said.get("faq"),
                }
            )
    if rows:
        op.bulk_insert(messages, rows)
    # Plain ALTER TABLE (as in 0005): a batch copy of `tickets` would trip the foreign keys.
    op.drop_column("tickets", "conversation")

    # Conversation states: a type name, the version of its shape, its fields. The steps in
    # progress at the upgrade held their screenshots as base64 in `data`; they are dropped.
    op.drop_table("chat_states")
    op.create_table(
        "chat_states",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_table("chat_states")
    op.create_table(
        "chat_states",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )

    op.add_column(
        "tickets", sa.Column("conversation", sa.JSON(), nullable=False, server_default="[]")
    )
    lists: dict[int, list] = defaultdict(list)
    said_rows = bind.execute(
        sa.text(
            "SELECT ticket_id, sender, text, image_id, faq_topic FROM ticket_messages "
            "ORDER BY ticket_id, id"
        )
    )
    for ticket_id, sender, text, image_id, faq_topic in said_rows:
        said: dict = {"from": "volunteer" if sender == "volunteer" else "coordinator"}
        said["text"] = text
        if faq_topic:
            said["faq"] = faq_topic
        if image_id is not None:
            said["image"] = image_id
        lists[ticket_id].append(said)
    tickets = sa.table("tickets", sa.column("id", sa.Integer), sa.column("conversation", sa.JSON))
    for ticket_id, conversation in lists.items():
        bind.execute(
            tickets.update().where(tickets.c.id == ticket_id).values(conversation=conversation)
        )
    op.drop_index("ix_ticket_messages_ticket", table_name="ticket_messages")
    op.drop_table("ticket_messages")

    op.execute("DELETE FROM ticket_images WHERE ticket_id IS NULL")  # drafts had no place then
    with op.batch_alter_table("ticket_images") as batch:
        batch.drop_index("ix_ticket_images_owner")
        batch.drop_column("owner")
        batch.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
