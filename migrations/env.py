"""Alembic environment: the URL comes from bot/migrate.py (DATABASE_URL), the models from bot."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import bot.models  # noqa: F401  (registers the tables on Base.metadata)
import broadcast.models  # noqa: F401
import faq.models  # noqa: F401
import ticketing.models  # noqa: F401
from bot.config import Settings
from bot.db import make_engine, normalize_url
from common.tables import Base

config = context.config
if config.config_file_name and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# Plain `alembic …` from the project root works too: the URL then comes from the environment.
if not config.get_main_option("sqlalchemy.url"):
    config.set_main_option(
        "sqlalchemy.url", normalize_url(Settings.from_env().database_url).replace("%", "%%")
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
