"""staff console: roles, console sign-in, phone tickets, internal notes, call-backs, phone calls,
presence, snippets and the audit log

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 20:56:18.721377
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import common.tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_target", ["target", "id"], unique=False)

    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", common.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["coordinators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_console_sessions_person", ["person_id", "ended_at"], unique=False)

    op.create_table(
        "snippets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["coordinators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "staff_logins",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("password_changed_at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["coordinators.id"],
        ),
        sa.PrimaryKeyConstraint("person_id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "call_backs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("done_at", common.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["done_by"],
            ["coordinators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["coordinators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("call_backs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_backs_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "phone_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=True),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["coordinators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("phone_calls", schema=None) as batch_op:
        batch_op.create_index("ix_phone_calls_phone", ["phone", "at"], unique=False)

    op.create_table(
        "ticket_presence",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", common.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("typing_at", common.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["coordinators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("ticket_id", "person_id"),
    )
    with op.batch_alter_table("coordinators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="coordinator", nullable=False)
        )
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("last_action_at", common.tables.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("internal", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="line", nullable=False)
        )
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.create_index("ix_tickets_phone", ["phone", "created_at"], unique=False)
        batch_op.create_index(
            "ix_tickets_queue_province", ["state", "province", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_tickets_queue_region", ["state", "region", "created_at"], unique=False
        )
        batch_op.create_foreign_key("fk_tickets_merged_into", "tickets", ["merged_into"], ["id"])

    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_volunteers_phone"), ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteers_phone"))
        batch_op.drop_column("phone")

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tickets_merged_into", type_="foreignkey")
        batch_op.drop_index("ix_tickets_queue_region")
        batch_op.drop_index("ix_tickets_queue_province")
        batch_op.drop_index("ix_tickets_phone")
        batch_op.alter_column("user_id", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.drop_column("merged_into")
        batch_op.drop_column("phone")
        batch_op.drop_column("channel")

    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_column("internal")

    with op.batch_alter_table("coordinators", schema=None) as batch_op:
        batch_op.drop_column("last_action_at")
        batch_op.drop_column("active")
        batch_op.drop_column("role")

    op.drop_table("ticket_presence")
    with op.batch_alter_table("phone_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_calls_phone")

    op.drop_table("phone_calls")
    with op.batch_alter_table("call_backs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_backs_ticket_id"))

    op.drop_table("call_backs")
    op.drop_table("staff_logins")
    op.drop_table("snippets")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_console_sessions_person")

    op.drop_table("console_sessions")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_target")
        batch_op.drop_index("ix_audit_at")

    op.drop_table("audit_log")
