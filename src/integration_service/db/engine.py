"""The connection pool: one SQLAlchemy engine per process, psycopg 3 underneath."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from integration_service.settings import Settings


def create_database_engine(settings: Settings) -> Engine:
    return create_engine(
        settings.sqlalchemy_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_max_overflow,
        pool_timeout=settings.database_pool_timeout_s,
        pool_pre_ping=True,
        # A statement that hangs must not hold a pooled connection for ever.
        connect_args={"connect_timeout": 10, "options": "-c statement_timeout=30000"},
    )
