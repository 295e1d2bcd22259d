"""Alembic environment: migrations run online against the configured URL, compared with schema.py.

From code the URL comes from `alembic_config()`; from the `alembic` command line, from DATABASE_URL.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from integration_service.db.schema import metadata
from integration_service.settings import sqlalchemy_url


def _not_the_job_queue(name: str | None, type_: str, parent_names: object) -> bool:
    """procrastinate's tables (revision 0006 installs them) are its own schema, not schema.py's: not compared."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("no database to migrate: set DATABASE_URL")
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=metadata, compare_type=True, include_name=_not_the_job_queue
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
