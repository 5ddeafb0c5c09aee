"""Alembic: `db upgrade` is idempotent and the migrations build exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import bot.models  # noqa: F401  (all tables are part of the schema)
import broadcast.models  # noqa: F401
import faq.models  # noqa: F401
import ticketing.models  # noqa: F401
from bot import migrate
from bot.db import make_engine
from common.tables import Base
from tests.conftest import reset_schema


def test_upgrade_twice_then_the_schema_matches_the_models(database_url):
    engine = make_engine(database_url)
    reset_schema(engine)
    try:
        migrate.upgrade(database_url)
        migrate.upgrade(database_url)  # a second run changes nothing and does not fail
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == []
        assert {"webhook_events", "outbound_messages", "faq_answers"} <= tables
        migrate.downgrade(database_url, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        reset_schema(engine)
        engine.dispose()


def test_0005_moves_each_ticket_screenshot_into_ticket_images_and_back(database_url):
    engine = make_engine(database_url)
    reset_schema(engine)
    png = b"\x89PNG\r\n\x1a\nold screenshot"
    ticket = (
        "INSERT INTO tickets (id, user_id, province, region, description, image, image_type, "
        "conversation, state, level, created_at) VALUES (:id, 'U1', 'สงขลา', 'ภาคใต้', 'x', "
        ":image, :image_type, '[]', 'new', 'province', CURRENT_TIMESTAMP)"
    )
    try:
        migrate.upgrade(database_url, "0004")
        with engine.begin() as conn:
            conn.execute(text(ticket), {"id": 1, "image": png, "image_type": "image/png"})
            conn.execute(text(ticket), {"id": 2, "image": None, "image_type": None})
        migrate.upgrade(database_url, "0005")
        with engine.connect() as conn:
            moved = conn.execute(
                text("SELECT ticket_id, content, content_type FROM ticket_images")
            ).all()
        assert [(r[0], bytes(r[1]), r[2]) for r in moved] == [(1, png, "image/png")]
        migrate.downgrade(database_url, "0004")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT id, image FROM tickets ORDER BY id")).all()
        assert [(r[0], r[1] and bytes(r[1])) for r in back] == [(1, png), (2, None)]
    finally:
        reset_schema(engine)
        engine.dispose()
