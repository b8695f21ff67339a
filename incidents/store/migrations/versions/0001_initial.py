"""Initial incident store: incidents, announcements, contacts, opt-outs, the delivery ledger,
cases, inbound messages, agents, assignments and the timeline.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types as they were at this revision (never import models here).
# Constraint names follow models.NAMING_CONVENTION so later batch migrations can find them.
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _id(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _ts(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _status(name: str, *values: str, default: str | None = None) -> sa.Column[Any]:
    kind = sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)
    return sa.Column("status", kind, nullable=False, server_default=default)


def _fk(table: str, column: str, target: str, ondelete: str, null: bool = True) -> sa.Column[Any]:
    key = sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}")
    return sa.Column(column, sa.Integer(), key, nullable=null)


def _text(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    _incidents_and_announcements()
    _people()
    _ledger()
    _cases()
    _timeline()


def _incidents_and_announcements() -> None:
    op.create_table(
        "incidents",
        *_id("incidents"),
        _str("playbook_id", 200),
        _text("playbook_path", nullable=False),
        _text("title", nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("languages", JSON, nullable=False),
        _status("incident_status", "active", "standing_down", "closed"),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("stood_down_at"),
        _ts("closed_at"),
    )
    op.create_table(
        "announcements",
        *_id("announcements"),
        _fk("announcements", "incident_id", "incidents", "CASCADE", null=False),
        _str("announcement_id", 200),
        _str("when", 20),
        _str("channel", 50),
        _str("language", 20),
        _text("subject"),
        _text("body", nullable=False),
        _text("html"),
        _status("announcement_status", "pending", "broadcasting", "sent", "recalled"),
        _ts("created_at", nullable=False),
        sa.UniqueConstraint(
            "incident_id",
            "announcement_id",
            "channel",
            "language",
            name="uq_announcements_incident_id_announcement_id_channel_language",
        ),
    )


def _people() -> None:
    op.create_table(
        "contacts",
        *_id("contacts"),
        _str("audience", 100),
        _text("name"),
        _str("phone", 20, nullable=True),
        _str("email", 320, nullable=True),
        _str("language", 20, nullable=True),
        _ts("opted_out_at"),
        sa.UniqueConstraint("phone", name="uq_contacts_phone"),
        sa.UniqueConstraint("email", name="uq_contacts_email"),
    )
    op.create_index("ix_contacts_audience", "contacts", ["audience"])
    op.create_table(
        "opt_outs",
        *_id("opt_outs"),
        _str("address", 320),
        _str("channel", 50),
        _text("keyword"),
        _ts("created_at", nullable=False),
        sa.UniqueConstraint("address", "channel", name="uq_opt_outs_address_channel"),
    )
    op.create_table(
        "agents",
        *_id("agents"),
        _text("name", nullable=False),
        _str("phone", 20, nullable=True),
        _str("email", 320, nullable=True),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("languages", JSON, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("temporary", sa.Boolean(), nullable=False),
        _ts("pass_expires_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("phone", name="uq_agents_phone"),
        sa.UniqueConstraint("email", name="uq_agents_email"),
    )


def _ledger() -> None:
    op.create_table(
        "deliveries",
        *_id("deliveries"),
        _str("idempotency_key", 200),
        _fk("deliveries", "incident_id", "incidents", "CASCADE", null=False),
        _fk("deliveries", "announcement_id", "announcements", "CASCADE", null=False),
        _str("channel", 50),
        _fk("deliveries", "contact_id", "contacts", "SET NULL"),
        _str("address", 320, nullable=True),
        _status(
            "delivery_status",
            *("queued", "sent", "delivered", "failed", "suppressed"),
            default="queued",
        ),
        _str("provider_id", 200, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _text("last_error"),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_deliveries_idempotency_key"),
    )
    op.create_index("ix_deliveries_incident_status", "deliveries", ["incident_id", "status"])
    op.create_index("ix_deliveries_provider_id", "deliveries", ["provider_id"])


def _cases() -> None:
    op.create_table(
        "cases",
        *_id("cases"),
        _fk("cases", "incident_id", "incidents", "SET NULL"),
        _fk("cases", "contact_id", "contacts", "SET NULL"),
        _str("channel", 50),
        _str("severity", 20),
        _str("category", 100, nullable=True),
        _str("subcategory", 100, nullable=True),
        _str("language", 20, nullable=True),
        _str("status", 50),
        sa.Column("why", JSON, nullable=True),
        _ts("opened_at", nullable=False),
        _ts("first_response_due"),
        _ts("resolution_due"),
        _ts("first_responded_at"),
        _ts("resolved_at"),
        _ts("paused_at"),
        sa.Column("paused_total_seconds", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_cases_incident_status", "cases", ["incident_id", "status"])
    op.create_table(
        "inbound_messages",
        *_id("inbound_messages"),
        _fk("inbound_messages", "incident_id", "incidents", "SET NULL"),
        _str("channel", 50),
        _str("provider_id", 200, nullable=True),
        _str("sender", 320),
        _text("body", nullable=False),
        _ts("received_at", nullable=False),
        _fk("inbound_messages", "case_id", "cases", "SET NULL"),
        sa.UniqueConstraint(
            "channel", "provider_id", name="uq_inbound_messages_channel_provider_id"
        ),
    )
    op.create_table(
        "assignments",
        *_id("assignments"),
        _fk("assignments", "case_id", "cases", "CASCADE", null=False),
        _fk("assignments", "agent_id", "agents", "CASCADE", null=False),
        _ts("assigned_at", nullable=False),
        _ts("acked_at"),
        _ts("released_at"),
        _text("reason"),
    )
    op.create_index("ix_assignments_case_id", "assignments", ["case_id"])
    op.create_index("ix_assignments_agent_id", "assignments", ["agent_id"])


def _timeline() -> None:
    op.create_table(
        "timeline_events",
        *_id("timeline_events"),
        _fk("timeline_events", "incident_id", "incidents", "CASCADE", null=False),
        _ts("at", nullable=False),
        _str("kind", 50),
        _text("message", nullable=False),
        sa.Column("data", JSON, nullable=True),
    )
    op.create_index(
        "ix_timeline_events_incident_at", "timeline_events", ["incident_id", "at", "id"]
    )


def downgrade() -> None:
    for table in (
        "timeline_events",
        "assignments",
        "inbound_messages",
        "cases",
        "deliveries",
        "agents",
        "opt_outs",
        "contacts",
        "announcements",
        "incidents",
    ):
        op.drop_table(table)
