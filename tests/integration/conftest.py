"""Fixtures of the integration tests.

``db`` (function)
    A DataFlow on the test's fresh database (``database_url``), closed afterwards. A test module
    that needs a different ``db`` (``test_errors_triggered.py``) defines its own, which takes
    precedence over this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dataflow import DataFlow


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[DataFlow]:
    """A DataFlow on the test's fresh database, closed afterwards."""
    instance = DataFlow(database_url)
    try:
        yield instance
    finally:
        await instance.close()
