"""Outbox marks: where a broadcast shard began writing its outbox file.

The outbox path now writes each delivery to the ledger once, as sent, after its outbox line.
A shard killed between the two leaves lines the ledger does not have yet; its mark says from
which byte of the file the next run must read them back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey(
                "incidents.id", ondelete="CASCADE", name="fk_outbox_marks_incident_id_incidents"
            ),
            nullable=False,
        ),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("contact_lo", sa.Integer(), nullable=False),
        sa.Column("contact_hi", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_marks"),
    )


def downgrade() -> None:
    op.drop_table("outbox_marks")
