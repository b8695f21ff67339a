"""Index provider ids only where a row has one.

Rows recorded to the outbox, suppressed or still queued have no provider id; a full index
still took an entry for each of them, one more B-tree insert per delivery on the broadcast's
hot path. Receipt lookups (``provider_id = ?``) use the partial index just the same.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_HAS_ONE = sa.text("provider_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_deliveries_provider_id", table_name="deliveries")
    op.create_index(
        "ix_deliveries_provider_id",
        "deliveries",
        ["provider_id"],
        sqlite_where=_HAS_ONE,
        postgresql_where=_HAS_ONE,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_provider_id", table_name="deliveries")
    op.create_index("ix_deliveries_provider_id", "deliveries", ["provider_id"])
