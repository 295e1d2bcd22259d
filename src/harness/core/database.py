"""Databases on a PostgreSQL server: create a fresh one, drop it, point a URL at it."""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def database_name(url: str) -> str:
    name = make_url(url).database
    if not name:
        raise ValueError("the database URL names no database")
    return name


def create_database(url: str, database: str, *, exist_ok: bool = False) -> str:
    """Create `database` on the server of `url` (connecting to its maintenance database); its URL."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists and not exist_ok:
            raise FileExistsError(f"database {database!r} already exists")
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return with_database(url, database)


def drop_database(url: str, database: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        connection.execute(statement)
