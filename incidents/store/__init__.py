"""The incident store: SQLAlchemy models, the database (SQLite file or PostgreSQL by URL), the
Alembic migrations run from code, and the column types both databases share.

The bottom room: it imports nothing else of the domain. ``database`` hands out sessions and
the few writes every room needs (incidents, announcements, timeline events).
"""
