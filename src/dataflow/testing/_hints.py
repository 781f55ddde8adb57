"""One line of help on failures whose third-party error the troubleshooting pages explain.

When a test fails (setup, call or teardown) with an error from asyncpg, aiosqlite, asyncio,
pytest-asyncio or SQLAlchemy whose text a troubleshooting section explains, the failure report gets a
``dataflow hint`` section: one line with what the error usually means and the link to the section.
DataFlow's own errors (``DF-`` codes) carry their link already and get no hint.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .._catalog import docs_base_url, docs_version
from .._errors import DataFlowError
from ._escapes import locked_write_section

__all__ = ["HINTS", "FailureHints", "Hint", "hint_for"]


@dataclass(frozen=True)
class Hint:
    """A pattern of an error's ``Type: message`` text and the section that explains it."""

    pattern: str
    page: str
    anchor: str
    meaning: str

    @property
    def url(self) -> str:
        """The section's link on the docs of this release."""
        return f"{docs_base_url()}{docs_version()}/{self.page}#{self.anchor}"

    def line(self) -> str:
        return f"{self.meaning}: see {self.url}"


HINTS = (
    Hint(
        r"another operation is in progress", "troubleshooting/", "another-operation-in-progress",
        "two operations ran on one asyncpg connection at once (or it follows a wrong-loop error)",
    ),
    Hint(
        r"attached to a different loop", "troubleshooting/", "attached-to-a-different-loop",
        "a connection or future made on one event loop was used from another (fixture and test loop scopes differ)",
    ),
    Hint(
        r"Event loop is closed", "troubleshooting/", "event-loop-is-closed",
        "something outlived the event loop that created it (a pool, connection or task of an earlier test)",
    ),
    Hint(
        r"ScopeMismatch", "troubleshooting/", "scopemismatch",
        "a fixture runs on a wider event loop (loop_scope) than a fixture or test it needs",
    ),
    Hint(
        r"database is locked", "troubleshooting/", "database-is-locked",
        "another SQLite connection held the write lock longer than the busy timeout",
    ),
    Hint(
        r"MissingGreenlet|greenlet_spawn has not been called", "troubleshooting/sqlalchemy/", "missinggreenlet",
        "SQLAlchemy's async layer ran blocking I/O outside its greenlet (a lazy load or sync call in async code)",
    ),
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the members of exception groups, each once."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)


def hint_for(exc: BaseException) -> Hint | None:
    """The hint for the first error of ``exc``'s chain that a troubleshooting section explains."""
    if isinstance(exc, DataFlowError):
        return None
    for error in _chain(exc):
        text = f"{type(error).__name__}: {error}"
        for hint in HINTS:
            if re.search(hint.pattern, text):
                return hint
    return None


class FailureHints:
    """Adds DataFlow's sections to failed reports: the DF-702 line of a write that waited for an
    isolation's write lock (``locked_write_section``), then the ``dataflow hint`` line. One hook
    wrapper does both: it runs three times per test."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if call.excinfo is None:
            return report
        locked = locked_write_section(item, call, report)
        if locked is not None:
            report.sections.append(locked)
        if report.failed:
            hint = hint_for(call.excinfo.value)
            if hint is not None:
                report.sections.append(("dataflow hint", hint.line()))
        return report
