"""People and permissions: users and roles, API tokens, console sessions, approvals, the audit
log, and each case's conversation (what we sent, notes, relays) and satisfaction answer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types as they are at this revision (never import models here).
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _id(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _fk(table: str, column: str, target: str, ondelete: str, null: bool = True) -> sa.Column[Any]:
    key = sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}")
    return sa.Column(column, sa.Integer(), key, nullable=null)


def _ts(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _choice(column: str, name: str, *values: str) -> sa.Column[Any]:
    kind = sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)
    return sa.Column(column, kind, nullable=False)


def upgrade() -> None:
    op.add_column("cases", sa.Column("csat_score", sa.Integer(), nullable=True))
    op.add_column("cases", _ts("csat_at"))
    op.create_table(
        "case_entries",
        *_id("case_entries"),
        _fk("case_entries", "case_id", "cases", "CASCADE", null=False),
        _ts("at", nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(50), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", JSON, nullable=True),
    )
    op.create_index("ix_case_entries_case_at", "case_entries", ["case_id", "at", "id"])
    op.create_table(
        "users",
        *_id("users"),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        _choice("role", "user_role", "commander", "comms", "agent", "viewer"),
        sa.Column("password_hash", sa.Text(), nullable=True),
        _fk("users", "agent_id", "agents", "SET NULL"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        _ts("locked_until"),
        _ts("created_at", nullable=False),
        _ts("last_login_at"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_tokens",
        *_id("api_tokens"),
        _fk("api_tokens", "user_id", "users", "CASCADE", null=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _ts("created_at", nullable=False),
        _ts("last_used_at"),
        _ts("revoked_at"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "web_sessions",
        *_id("web_sessions"),
        _fk("web_sessions", "user_id", "users", "CASCADE", null=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _ts("created_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        _ts("revoked_at"),
        sa.UniqueConstraint("session_hash", name="uq_web_sessions_session_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "approvals",
        *_id("approvals"),
        sa.Column("kind", sa.String(20), nullable=False),
        _fk("approvals", "incident_id", "incidents", "CASCADE"),
        sa.Column("request", JSON, nullable=False),
        sa.Column("preview", JSON, nullable=True),
        _choice("status", "approval_status", "pending", "approved", "rejected", "cancelled"),
        _fk("approvals", "requested_by", "users", "SET NULL"),
        sa.Column("requester", sa.String(200), nullable=False),
        _ts("requested_at", nullable=False),
        _fk("approvals", "decided_by", "users", "SET NULL"),
        _ts("decided_at"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=True),
    )
    op.create_index("ix_approvals_status", "approvals", ["status"])
    op.create_table(
        "audit_events",
        *_id("audit_events"),
        _ts("at", nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("detail", JSON, nullable=True),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at", "id"])
    op.create_index("ix_audit_events_incident", "audit_events", ["incident_id", "id"])


def downgrade() -> None:
    for table in ("audit_events", "approvals", "web_sessions", "api_tokens", "users"):
        op.drop_table(table)
    op.drop_table("case_entries")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("csat_at")
        batch.drop_column("csat_score")
