"""The schema's building blocks: the metadata (with its naming convention), the columns most tables
share, and the shape of a table of provider records. `schema.py` defines the tables from them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

# Deterministic constraint names, so that migrations can name what they drop.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MONEY = Numeric(18, 4)


def created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def updated_at() -> Column[object]:
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now())


def user_id() -> Column[object]:
    """The owning user: deleting a user deletes everything of theirs."""
    return Column("user_id", Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)


def integration_id() -> Column[object]:
    return Column(
        "integration_id",
        UUID(as_uuid=True),
        ForeignKey("integrations_credentials.id", ondelete="CASCADE"),
        nullable=False,
    )


def one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def provider_records_table(name: str, provider_id: str, *columns: Column[object] | Index) -> Table:
    """A table of records synced from a provider: one row per record per connection.

    The unique (integration_id, <provider id>) pair is the upsert's conflict target; its leading
    column also serves as the index of the integration_id foreign key.
    """
    return Table(
        name,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        integration_id(),
        user_id(),
        Column(provider_id, Text, nullable=False),
        *columns,
        Column("provider_updated_at", DateTime(timezone=True)),
        created_at(),
        updated_at(),
        UniqueConstraint("integration_id", provider_id),
        Index(None, provider_id),
    )
