"""Probe: a backend-only marker without a reason (neither reason= nor a docstring) must be refused."""

import pytest


@pytest.mark.postgresql_only
def test_without_reason(backend: str) -> None:
    assert backend == "postgresql"
