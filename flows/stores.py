"""Settings and the incident store as every flow opens them.

A flow may be handed a ``database_url`` (tests, a second store); otherwise the environment
names the store. Exercises get settings without credentials, so nothing leaves the machine.
"""

from __future__ import annotations

from crisiscast.config import Settings, load_settings
from crisiscast.incidents.store.database import Store


def settings_for(database_url: str | None, exercise: bool = False) -> Settings:
    """The environment's settings on ``database_url``; offline (outbox only) for an exercise."""
    settings = load_settings().with_database(database_url)
    return settings.offline() if exercise else settings


def open_store(database_url: str | None) -> Store:
    """The incident store, brought to the current schema (idempotent, keeps data)."""
    store = Store.from_settings(settings_for(database_url))
    store.upgrade()
    return store
