"""The catalog entries of the performance work (DF-827: the session-loop isolation mode), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order, as it does with ``_catalog_cdc``.
"""

from __future__ import annotations

__all__ = ["PERFORMANCE_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
PERFORMANCE_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-827", "IsolationModeError", "Session isolation outside the session loop",
        "A test requests `dataflow_isolated_session`, whose connection lives on the session event loop, "
        "but the test does not run on that loop: it is a sync test, an unmarked async test in "
        "`asyncio_mode = strict`, or its `asyncio` marker (on the test, its class or its module) asks for "
        "another loop scope.",
        'Mark the test `@pytest.mark.asyncio(loop_scope="session")` (or drop the marker\'s other '
        "`loop_scope`; in `asyncio_mode = auto` the plugin adds the mark itself), make it `async def`, or "
        "request `dataflow_isolated` instead, which runs on the test's own loop.",
    ),
]
