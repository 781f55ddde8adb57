"""Seed data for isolated tests: loaded once, committed, and every ``dataflow_isolated`` test starts
from it and returns to it (its isolation rolls back whatever it wrote on top).

The ``dataflow_seed`` fixture returns the loader, ``async def load(db)``. The plugin loads it the
first time an isolated test needs it (per xdist worker, in that test's setup), and again only when
the fixture's value changes: a session-scoped fixture loads once per session, a module-scoped one
once per module. The seed owns its models' tables: they are emptied before a seed loads and when
the session ends. A test whose writes escape its isolation (DF-702) may have changed the seed, so
the next isolated test loads it again.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from .._dataflow import DataFlow
from .._dialects import quote_ident
from .._errors import SeedError
from .._loops import run_blocking

__all__ = ["SeedLoader", "SeedState"]

SeedLoader = Callable[[DataFlow], Awaitable[object]]


def _check(loader: object) -> SeedLoader | None:
    if loader is None:
        return None
    method = loader if inspect.isfunction(loader) or not callable(loader) else type(loader).__call__
    if not (inspect.iscoroutinefunction(loader) or inspect.iscoroutinefunction(method)):
        raise SeedError(
            f"The dataflow_seed fixture returned {loader!r}; it must return None or an async function that "
            "takes the DataFlow instance, e.g. 'async def load(db): ...' (return load, do not call it).",
            context={"seed": repr(loader)},
        )
    return loader  # type: ignore[return-value]


async def _empty(db: DataFlow) -> None:
    tables = [spec.table for spec in db.models.values()]
    async with db.transaction(), db.connection() as connection:
        for table in tables:
            await connection.execute(f"DELETE FROM {quote_ident(table)}")


class SeedState:
    """Which seed the database of this worker holds now."""

    def __init__(self) -> None:
        self.loaded: SeedLoader | None = None
        self.url: str | None = None
        self.models: list[type] = []
        #: The seed may have been changed outside an isolation (DF-702): load it again.
        self.dirty = False
        #: How many times the tables were emptied (and the seed loaded): a change commits.
        self.loads = 0

    async def prepare(self, db: DataFlow, url: str, loader: object, models: list[type]) -> None:
        """Make the database hold ``loader``'s seed (nothing to do when it already does)."""
        wanted = _check(loader)
        if wanted is None and self.loaded is None:
            return
        if wanted is self.loaded and url == self.url and not self.dirty:
            return
        self.loaded, self.url, self.models, self.dirty = None, url, list(models), True
        self.loads += 1
        await _empty(db)
        if wanted is None:
            self.dirty = False
            return
        try:
            await wanted(db)
        except Exception as exc:
            name = getattr(wanted, "__qualname__", repr(wanted))
            raise SeedError(
                f"The seed loader {name} failed while loading the seed data: {type(exc).__name__}: {exc}",
                context={"seed": name},
            ) from exc
        self.loaded, self.dirty = wanted, False

    def finish(self) -> None:
        """Empty the seeded tables at the end of the session (blocking; its own event loop)."""
        if self.url is None or (self.loaded is None and not self.dirty):
            return
        url, models = self.url, self.models
        self.loaded, self.url, self.dirty = None, None, False

        async def empty() -> None:
            db = DataFlow(url, test_mode=True)
            try:
                for model in models:
                    db.model(model)
                await db.create_tables()
                await _empty(db)
            finally:
                await db.close()

        run_blocking(empty)
