"""DataFlow: an async, workflow-based database library for SQLite and PostgreSQL."""
