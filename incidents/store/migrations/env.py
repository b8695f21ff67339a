"""Alembic environment for the incident store.

Run through :func:`crisiscast.incidents.store.migrate.upgrade_engine`, which passes an open
connection in ``config.attributes["connection"]``; the whole upgrade is one transaction.
"""

from __future__ import annotations

from alembic import context

from crisiscast.errors import StoreError
from crisiscast.incidents.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise StoreError(
        "the incident store's migrations run from code, not the alembic command: "
        "call crisiscast.incidents.store.database.upgrade(url) or Store(url).upgrade()"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
