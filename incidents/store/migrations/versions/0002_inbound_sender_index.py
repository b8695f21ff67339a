"""Index inbound messages by sender: intake finds a sender's open case on every reply.

Without it, finding the open case scans every message ever received (measured on PostgreSQL
before its statistics existed: 0.4-2 s per batch at 16,000 messages).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_inbound_messages_sender", "inbound_messages", ["sender"])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_sender", table_name="inbound_messages")
