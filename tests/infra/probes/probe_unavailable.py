"""Probe run by tests/infra/test_postgres_fixtures.py in a child pytest with PostgreSQL made
unavailable: the sqlite variant must pass, the postgresql variant must fail (CI) or skip.
"""

from __future__ import annotations


def test_needs_a_database(backend: str, database_url: str) -> None:
    assert database_url.startswith("sqlite:///" if backend == "sqlite" else "postgresql://")
