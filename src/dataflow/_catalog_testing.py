"""The catalog entries of the pytest plugin's worker databases, backend marker and task tracker
(DF-710, DF-803..DF-805), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order, as it does with ``_catalog_cdc`` and ``_catalog_services``.
"""

from __future__ import annotations

__all__ = ["TESTING_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
TESTING_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-710", "TaskNotStoppedError", "Tracked task did not stop",
        "A task tracked with `dataflow_tasks` (or a `TaskTracker`) was still running after it was "
        "cancelled and awaited for `timeout` seconds: it catches `CancelledError` and carries on, or "
        "waits on something that ignores cancellation.",
        "Let `CancelledError` propagate (clean up in `finally:` and re-raise), or give the task a stop "
        "signal (an `asyncio.Event` it waits on) and set it before the test ends.",
    ),
    (
        "DF-803", "TestDatabaseOptionsError", "Conflicting test database options",
        "`--dataflow-reuse-db` and `--dataflow-drop-db` were given together: the first keeps the worker "
        "databases for the next run, the second removes them when this run ends.",
        "Pass one of them: `--dataflow-reuse-db` for fast repeated runs, `--dataflow-drop-db` (or "
        "`dataflow testdb --drop`) to remove the worker databases.",
    ),
    (
        "DF-804", "BackendMarkerError", "Invalid dataflow_backend marker",
        "`@pytest.mark.dataflow_backend` names no backend, names one DataFlow does not have, or has no "
        "`reason=` saying why the test cannot run on the other backends.",
        "Name one or more of `sqlite` and `postgresql` and say why: "
        '`@pytest.mark.dataflow_backend("postgresql", reason="uses a server-side lock")`.',
    ),
    (
        "DF-805", "InvalidTaskError", "Not a task",
        "`TaskTracker.track_task()` was given something that is not an asyncio task or future: usually "
        "a coroutine (`track_task(work())`) or a coroutine function (`track_task(work)`).",
        "Track the task you created (`tracker.track_task(asyncio.create_task(work()))`), or let the "
        "tracker create it: `tracker.create_task(work())`.",
    ),
]
