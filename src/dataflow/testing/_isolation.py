"""What ``dataflow_isolated`` does around a test, and ``DATABASE_URL`` per xdist worker.

* Under xdist, ``DATABASE_URL`` is pointed at the worker's database (created if missing) when the
  plugin is loaded or configured, before test modules are imported: an app module's ``db = DataFlow()`` (which reads it)
  then uses the same database as the fixtures. An instance created from the old value before that
  (a ``conftest.py`` importing the app) joins isolations of the worker's database all the same.
  :func:`run_database_url` is the URL the run was started with.
* Around each isolated test: the seed data is made current, the escaped-writes check reads the
  committed state, and the fixture's instance enters ``isolated(join_instances=True)``, so every other
  ``DataFlow`` instance on that database (an app's import-time instance, or one created during the
  test) runs on the isolated connection, its ``transaction()`` blocks as savepoints.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from .._database_aliases import alias_database
from .._dataflow import DataFlow
from .._dialects import backend_for, parse_url
from .._errors import DataFlowError, EscapedWritesError
from ._escapes import EscapeWatch, SessionProbe, escapes_allowed
from ._seed import SeedState
from ._urls import run_worker

__all__ = ["isolate_test", "point_at_worker_database", "restore_database_url", "run_database_url"]

logger = logging.getLogger("dataflow")
_ENV = "DATABASE_URL"
#: ``DATABASE_URL`` as the run was started with, while the worker's URL replaces it.
_original: list[str] = []


def point_at_worker_database(options: Any) -> None:
    """In an xdist worker, set ``DATABASE_URL`` to the worker's database (``<name>_gw0``, ...); without
    xdist, to ``<name>_main`` when the run keeps its databases (``options``: pytest's parsed options)."""
    env_url, worker = os.environ.get(_ENV), run_worker(options)
    if not env_url or not worker or _original:
        return
    url = parse_url(env_url)
    if url.is_memory:
        return
    _original.append(env_url)
    backend = backend_for(url)
    worker_url = backend.with_database_suffix(url, worker)
    os.environ[_ENV] = worker_url.render()
    try:  # code under test may use it before any fixture does
        backend.ensure_database(worker_url, admin=url)
    except DataFlowError as exc:  # the fixtures raise it again, in the test that needs the database
        logger.warning("DataFlow: could not create the worker's database %s: %s", worker_url.redacted, exc)
    # An instance created from DATABASE_URL before this (a conftest.py that imports the app before
    # the plugin is configured) still joins the isolation of the worker's database.
    alias_database(url, worker_url)


def restore_database_url() -> None:
    """Put back the ``DATABASE_URL`` the run was started with."""
    if _original:
        os.environ[_ENV] = _original.pop()


def run_database_url() -> str | None:
    """``DATABASE_URL`` as the run was started with (the fixtures derive the worker's database)."""
    return _original[0] if _original else os.environ.get(_ENV)


@asynccontextmanager
async def isolate_test(
    item: pytest.Item,
    db: DataFlow,
    url: str,
    seed: object,
    state: SeedState,
    models: list[type],
    session: SessionProbe | None = None,
    *,
    trust_quiet: bool = False,
    probe_aside: bool = False,
) -> AsyncIterator[DataFlow]:
    """Seed, watch for escaped writes, and isolate every instance on ``url`` around one test.

    ``session`` is the worker's commit probe (the full escaped-writes check runs only when something
    committed); ``trust_quiet`` skips even the probe before the test when no other test or fixture
    ran since the previous isolated test's check and no seed was loaded (a task of the previous test
    cannot have committed since: its loop is gone in function mode, and the session-loop mode takes
    that risk, see :class:`~dataflow.testing._session.SessionLoopMarker`); ``probe_aside`` (for an
    instance whose pool outlives the test) asks the commit probe on a second connection while the
    isolation rolls back, instead of on the isolated connection before.
    """
    loads = state.loads
    await state.prepare(db, url, seed, models)
    watch = None if escapes_allowed(item) else EscapeWatch(db, url, session)
    if watch is not None:
        await watch.start(trust_quiet=trust_quiet and state.loads == loads)
    isolation = db.execution_context.isolated(
        join_instances=True, boundaries=watch.boundaries if watch is not None else None
    )
    await isolation.__aenter__()
    try:
        yield db
    except BaseException as exc:  # thrown in: end the isolation with it, no check
        if not await isolation.__aexit__(type(exc), exc, exc.__traceback__):
            raise
        return
    if watch is not None and probe_aside and watch.probes_aside:
        # The commit probe on a second connection, in flight with the rollback (the exit runs in
        # this task: its context variables were set here).
        probing = asyncio.create_task(watch.probe_aside())
        try:
            error = await _ended(isolation)
        except BaseException:
            probing.cancel()
            raise
        quiet = await probing
    else:
        # The commit probe runs on the isolated connection before the rollback: no pool round trip.
        quiet = await watch.probe_isolated() if watch is not None else None
        error = await _ended(isolation)
    if watch is not None:
        try:
            await watch.check(item.nodeid, quiet=quiet)
        except EscapedWritesError as escaped:
            state.dirty = True
            raise escaped from error
    if error is not None:
        raise error


async def _ended(isolation: AbstractAsyncContextManager[None]) -> Exception | None:
    """End ``isolation`` (roll back); the error when that failed."""
    try:
        await isolation.__aexit__(None, None, None)
    except Exception as exc:  # e.g. a raw COMMIT ended the isolation's transaction under it
        return exc
    return None
