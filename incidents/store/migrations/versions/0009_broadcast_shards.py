"""Broadcast shards: a broadcast's shards as claims that Prefect workers share.

With ``workers``, a broadcast writes its shards here and shard runners on the Prefect work
pool claim them one at a time, with a lease they renew while sending. A runner that dies (its
worker killed, its machine lost) stops renewing; once the lease has passed, another runner
takes the shard over. Prefect leaves a dead worker's flow run "Running" and never hands it
on, so the claim lives in our store, next to the ledger that keeps each delivery once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "broadcast_shards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run", sa.String(64), nullable=False),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey(
                "incidents.id", ondelete="CASCADE", name="fk_broadcast_shards_incident_id_incidents"
            ),
            nullable=False,
        ),
        sa.Column("announcement", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("contact_lo", sa.BigInteger(), nullable=True),
        sa.Column("contact_hi", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_shards"),
    )
    op.create_index("ix_broadcast_shards_run_status", "broadcast_shards", ["run", "status"])


def downgrade() -> None:
    op.drop_index("ix_broadcast_shards_run_status", table_name="broadcast_shards")
    op.drop_table("broadcast_shards")
