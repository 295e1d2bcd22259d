"""api token rate limits: a token's own request limit, counted per token (NULL: its user's default)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As schema.TOKEN_RATE_LIMIT_PATTERN when this revision was written: a migration never changes with the model.
PATTERN = "^[1-9][0-9]{0,8}/(second|minute|hour|day)$"


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("rate_limit", sa.Text(), nullable=True))
    op.create_check_constraint(op.f("ck_api_tokens_rate_limit_format"), "api_tokens", f"rate_limit ~ '{PATTERN}'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_api_tokens_rate_limit_format"), "api_tokens", type_="check")
    op.drop_column("api_tokens", "rate_limit")
