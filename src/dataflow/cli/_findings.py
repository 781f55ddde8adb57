"""What ``dataflow doctor`` reports: one :class:`Finding` per problem, each with its docs section."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .._catalog import docs_base_url, docs_version

__all__ = ["ANCHORS", "MAX_LISTED", "Finding", "listed"]

#: The docs section each check links to (page path on the site, then the anchor).
ANCHORS: dict[str, str] = {
    "parse": "guide/debugging/#what-dataflow-doctor-checks",
    "import": "guide/debugging/#what-dataflow-doctor-checks",
    "loop-scope": "troubleshooting/#scopemismatch",
    "test-loop": "troubleshooting/#attached-to-a-different-loop",
    "event-loop": "troubleshooting/#leftover-event-loop-fixture",
    "event-loop-requested": "troubleshooting/#fixture-event-loop-not-found",
    "asyncio-mode": "troubleshooting/#async-def-functions-are-not-natively-supported",
    "import-time-dataflow": "troubleshooting/#dataflow-created-at-import-time",
    "versions": "troubleshooting/#unsupported-versions",
    "database-url": "troubleshooting/#connection-refused",
    "database-url-invalid": "troubleshooting/errors/#df-801",
    "database-url-name": "troubleshooting/#not-a-test-database",
    "plugin": "troubleshooting/#fixture-dataflow-db-not-found",
    "change-feeds": "guide/change-data-capture/#abandoned-feeds",
}


MAX_LISTED = 8


@dataclass
class Finding:
    """One problem ``dataflow doctor`` found.

    Attributes:
        check: The check's id (``loop-scope``, ``plugin``, ...).
        path: The file, relative to the project directory (None: the environment).
        line: The line in ``path`` (None: the whole file or none).
        message: What is wrong and what happens when pytest runs.
        fix: What to change.
        details: Extra lines, such as the tests that use a fixture.
        anchor: The docs page and section that explain the fix (``troubleshooting/#scopemismatch``).
    """

    check: str
    path: str | None
    line: int | None
    message: str
    fix: str
    details: list[str] = field(default_factory=list)
    anchor: str = ""

    def __post_init__(self) -> None:
        if not self.anchor:
            self.anchor = ANCHORS[self.check]

    @property
    def url(self) -> str:
        """The full link of the docs section."""
        return f"{docs_base_url()}{docs_version()}/{self.anchor}"

    @property
    def location(self) -> str:
        """``conftest.py:12``, ``pytest.ini`` or ``environment``."""
        if self.path is None:
            return "environment"
        return f"{self.path}:{self.line}" if self.line else self.path

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data (with its full link)."""
        return {**asdict(self), "url": self.url}

    def render(self) -> str:
        """The finding as plain text: location, message, details, fix and link."""
        lines = [f"{self.location}: [{self.check}] {self.message}"]
        lines += [f"    {detail}" for detail in self.details]
        lines += [f"    fix: {self.fix}", f"    see: {self.url}"]
        return "\n".join(lines)


def listed(label: str, items: list[str]) -> list[str]:
    """``used by: a, b, c`` on one line per item, at most a few, then ``and N more``."""
    shown = [f"{label}: {item}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        shown.append(f"{label}: ... and {len(items) - MAX_LISTED} more")
    return shown
