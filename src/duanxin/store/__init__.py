"""Storage: SQLAlchemy 2 (async) tables, queries and migrations; SQLite and PostgreSQL."""
