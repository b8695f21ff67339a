"""Contact directory: where people are, tags and fields, named lists, saved filters, targets.

A launch used to reach every contact ever imported. Now each announcement names its target: a
``targets`` row (what the commander asked for: lists, a filter, an area, or everyone) and, once
resolved, ``target_members`` (the contact ids it reached, written once by one INSERT ... SELECT,
never per batch). Contacts gain ``latitude``/``longitude`` (with an index for a bounding-box
prefilter), ``area_codes``, ``tags``, ``fields`` and the ``region`` their numbers were read in.

Existing contacts go into the list ``default``; existing incidents reached everyone, so their
announcements get an ``everyone`` target and still report what they did.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types as they are at this revision (never import models here).
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
DEFAULT_LIST = "default"


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


def upgrade() -> None:
    _contact_attributes()
    _lists_and_filters()
    _targets()
    _existing_rows()


def _contact_attributes() -> None:
    op.add_column("contacts", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("contacts", sa.Column("longitude", sa.Float(), nullable=True))
    op.add_column(
        "contacts",
        sa.Column("area_codes", JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column(
        "contacts", sa.Column("tags", JSON, nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column(
        "contacts", sa.Column("fields", JSON, nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column("contacts", sa.Column("region", sa.String(2), nullable=True))
    op.create_index("ix_contacts_latitude_longitude", "contacts", ["latitude", "longitude"])


def _lists_and_filters() -> None:
    op.create_table(
        "contact_lists",
        *_id("contact_lists"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _ts("created_at", nullable=False),
        sa.UniqueConstraint("name", name="uq_contact_lists_name"),
    )
    op.create_table(
        "contact_list_members",
        _fk("contact_list_members", "list_id", "contact_lists", "CASCADE", null=False),
        _fk("contact_list_members", "contact_id", "contacts", "CASCADE", null=False),
        sa.PrimaryKeyConstraint("list_id", "contact_id", name="pk_contact_list_members"),
    )
    op.create_index("ix_contact_list_members_contact_id", "contact_list_members", ["contact_id"])
    op.create_table(
        "saved_filters",
        *_id("saved_filters"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        _ts("created_at", nullable=False),
        sa.UniqueConstraint("name", name="uq_saved_filters_name"),
    )


def _targets() -> None:
    op.create_table(
        "targets",
        *_id("targets"),
        _fk("targets", "incident_id", "incidents", "CASCADE"),
        # {"lists": [...], "filter": "...", "area": {...}, "everyone": bool}
        sa.Column("spec", JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("everyone", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("size", sa.Integer(), nullable=True),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "target_members",
        _fk("target_members", "target_id", "targets", "CASCADE", null=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target_id", "contact_id", name="pk_target_members"),
    )
    # A plain column, no foreign key: adding one on SQLite means rebuilding ``announcements``,
    # and dropping the old table would cascade into the ledger (deliveries ON DELETE CASCADE).
    op.add_column("announcements", sa.Column("target_id", sa.Integer(), nullable=True))


def _existing_rows() -> None:
    """Existing contacts join ``default``; each existing incident gets an ``everyone`` target."""
    bind = op.get_bind()
    now = "CURRENT_TIMESTAMP"
    bind.execute(
        sa.text(
            f"INSERT INTO contact_lists (name, description, created_at) VALUES (:name, "  # noqa: S608 - fixed SQL
            f"'contacts imported before lists existed', {now})"
        ),
        {"name": DEFAULT_LIST},
    )
    bind.execute(
        sa.text(
            "INSERT INTO contact_list_members (list_id, contact_id) "
            "SELECT l.id, c.id FROM contact_lists l, contacts c WHERE l.name = :name"
        ),
        {"name": DEFAULT_LIST},
    )
    spec = "'{\"everyone\": true}'"
    if bind.dialect.name == "postgresql":
        spec = f"CAST({spec} AS JSONB)"
    bind.execute(
        sa.text(
            "INSERT INTO targets (incident_id, spec, description, everyone, created_at) "  # noqa: S608 - fixed SQL
            f"SELECT id, {spec}, 'everyone (launched before targets existed)', true, {now} "
            "FROM incidents"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE announcements SET target_id = (SELECT t.id FROM targets t "
            "WHERE t.incident_id = announcements.incident_id)"
        )
    )


def downgrade() -> None:
    op.drop_column("announcements", "target_id")
    op.drop_table("target_members")
    op.drop_table("targets")
    op.drop_table("saved_filters")
    op.drop_index("ix_contact_list_members_contact_id", table_name="contact_list_members")
    op.drop_table("contact_list_members")
    op.drop_table("contact_lists")
    op.drop_index("ix_contacts_latitude_longitude", table_name="contacts")
    for column in ("region", "fields", "tags", "area_codes", "longitude", "latitude"):
        op.drop_column("contacts", column)
