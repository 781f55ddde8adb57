"""The pytest plugin ``dataflow monitor pytest`` loads into the test run (``-p dataflow.cli._monitor_plugin``).

It records every pool DataFlow creates and closes during the session, with the test that was
running, and writes them as JSON when the session ends, to ``<DATAFLOW_MONITOR_REPORT>.<process>.json``
(``main``, or the pytest-xdist worker id: each worker creates its own pools). Passwords never
appear: pool events carry redacted URLs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator
from typing import Any

import pytest

from .._events import PoolEvent, subscribe

__all__ = ["REPORT_ENV", "Monitor", "pytest_configure"]

#: The environment variable with the report file's path.
REPORT_ENV = "DATAFLOW_MONITOR_REPORT"


class Monitor:
    """Collects pool events, each with the node id of the test running at the time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.current: str | None = None
        self.events: list[dict[str, Any]] = []
        self.unsubscribe: Callable[[], None] | None = None

    def record(self, event: PoolEvent) -> None:
        """Keep one pool event."""
        self.events.append(
            {
                "test": self.current,
                "kind": str(event.kind),
                "closed_by": str(event.closed_by) if event.closed_by else None,
                "safety_net": event.by_safety_net,
                "url": event.url,
                "owner": event.owner,
                "loop": event.loop_id,
            }
        )

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.unsubscribe = subscribe(self.record)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.current = item.nodeid
        try:
            return (yield)
        finally:
            self.current = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.unsubscribe is not None:
            self.unsubscribe()
        with open(self.path, "w", encoding="utf-8") as handle:
            json.dump({"events": self.events}, handle)


def pytest_configure(config: pytest.Config) -> None:
    base = os.environ.get(REPORT_ENV)
    if base:
        worker = getattr(config, "workerinput", {}).get("workerid", "main")
        config.pluginmanager.register(Monitor(f"{base}.{worker}.json"), "dataflow-monitor")
