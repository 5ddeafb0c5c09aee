"""Alembic: `db upgrade` is idempotent and the migrations build exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import broadcast.models  # noqa: F401  (all tables are part of the schema)
import faq.models  # noqa: F401
import ticketing.models  # noqa: F401
from bot import migrate
from bot.db import make_engine
from bot.models import Base
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
