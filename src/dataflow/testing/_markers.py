"""``@pytest.mark.dataflow_backend("postgresql", reason="...")``: run a test on some backends only.

The backend of a run is the one ``DATABASE_URL`` names (SQLite when it is not set, like the fixtures).
A test marked for other backends is skipped with its reason; a marker without a known backend or
without ``reason=`` is an error of the test (DF-804).
"""

from __future__ import annotations

import os

import pytest

from .._dialects import BACKENDS, backend_for, parse_url
from .._errors import BackendMarkerError

__all__ = ["BackendMarker", "current_backend"]

MARKER = "dataflow_backend"


def current_backend() -> str:
    """The name of the backend the fixtures use in this run: ``DATABASE_URL``'s, else SQLite's."""
    return backend_for(parse_url(os.environ.get("DATABASE_URL") or "sqlite:///:memory:")).name


def _backends(item: pytest.Item, marker: pytest.Mark) -> tuple[list[str], str]:
    names = [str(name) for name in marker.args]
    reason = str(marker.kwargs.get("reason") or "").strip()
    unknown = [name for name in names if name not in BACKENDS]
    problem = (
        "names no backend" if not names
        else f"names {', '.join(map(repr, unknown))}, which DataFlow does not have" if unknown
        else "has no reason=" if not reason
        else ""
    )
    extra = sorted(set(marker.kwargs) - {"reason"})
    if extra and not problem:
        problem = f"takes backends and reason= only, not {', '.join(extra)}="
    if problem:
        raise BackendMarkerError(
            f"{item.nodeid}: @pytest.mark.{MARKER}(...) {problem}; backends: {', '.join(BACKENDS)}.",
            context={"test": item.nodeid},
        )
    return names, reason


class BackendMarker:
    """Skips marked tests on other backends."""

    def __init__(self, config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers",
            f'{MARKER}(*backends, reason): run the test only when DATABASE_URL names one of these backends '
            f"({', '.join(BACKENDS)}); reason= is required (DF-804).",
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            return
        names, reason = _backends(item, marker)
        current = current_backend()
        if current not in names:
            pytest.skip(f"runs on {' and '.join(names)} only ({reason}); this run uses {current}")
