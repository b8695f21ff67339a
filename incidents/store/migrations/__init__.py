"""Alembic migrations for the incident store."""
