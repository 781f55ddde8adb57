"""The catalog entries of the testing support beyond DF-701, as plain text: the isolation's
(DF-702..DF-704) and the worker databases', backend marker's and task tracker's (DF-710,
DF-803..DF-805).

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order, as it does with ``_catalog_cdc`` and ``_catalog_services``.
"""

from __future__ import annotations

__all__ = ["TESTING_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
TESTING_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-702", "EscapedWritesError", "Writes escaped the test's isolation",
        "A test under `dataflow_isolated` changed rows that are still there after its rollback: it wrote "
        "through a connection of its own that committed, through an instance on another URL of the "
        "database, or ran a raw `COMMIT` on the isolated connection. The message names the test, each "
        "table and how many rows escaped.",
        "Write through the fixture's instance or the app's own `DataFlow` instances (they join the "
        "isolation), use `db.connection()` for raw SQL and never `COMMIT` on it; or mark the test "
        '`@pytest.mark.dataflow_escapes_expected(reason="...")` and clean up yourself.',
    ),
    (
        "DF-703", "LoopReuseWarning", "Instance reused on another event loop",
        "A `DataFlow` instance that nobody closed is used from a second event loop: its pool on the "
        "first loop was closed by DataFlow when that loop ended. Typically an instance created at "
        "import time and used by tests that each run on their own function loop.",
        "Request `dataflow_isolated` in those tests (the app's instance runs inside the test's "
        "isolation), or close the instance's pools at the end of each loop in a fixture "
        "(`await db.cleanup_all_pools()`).",
    ),
    (
        "DF-704", "SeedError", "Invalid seed data loader",
        "The `dataflow_seed` fixture returned something other than `None` or an async function that takes "
        "the `DataFlow` instance, or the loader failed while loading the seed data.",
        "Return an `async def load(db)` function from a session- or module-scoped `dataflow_seed` fixture, "
        "and read the chained error (`__cause__`) when the loader failed.",
    ),
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
