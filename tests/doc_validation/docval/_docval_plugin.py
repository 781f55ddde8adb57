"""pytest plugin loaded (``-p _docval_plugin``) into each page-project run.

Writes, for every failed phase of every test, the exception's type chain and the full failure text to
the JSON file named by ``DOCVAL_EXCEPTIONS``, keyed by the test's file, line and name, the way
``--junitxml`` (xunit1) names a testcase, so the harness can check ``raises=`` against subclasses.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_RECORDS: list[dict[str, Any]] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        excinfo = call.excinfo
        types = [f"{t.__module__}.{t.__qualname__}" for t in excinfo.type.__mro__] if excinfo else []
        path, line, _ = item.location
        _RECORDS.append(
            {
                "file": path,
                "line": line,
                "name": item.name,
                "when": call.when,
                "types": types,
                "message": str(excinfo.value) if excinfo else "",
                "text": report.longreprtext,
            }
        )
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("DOCVAL_EXCEPTIONS")
    if target:
        with open(target, "w", encoding="utf-8") as f:
            json.dump(_RECORDS, f)
