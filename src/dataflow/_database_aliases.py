"""Which databases count as one when an instance joins another's isolation.

Under xdist the plugin points ``DATABASE_URL`` at the worker's database; an instance created from
the old value before that (a ``conftest.py`` that imports the app) is an alias of the worker's
database and still joins ``isolated(join_instances=True)`` on it.
"""

from __future__ import annotations

from ._url import DatabaseURL

__all__ = ["alias_database", "joins"]

#: ``(alias, database)``: a context on ``alias`` counts as one on ``database`` when it joins an isolation.
_aliases: list[tuple[DatabaseURL, DatabaseURL]] = []


def alias_database(alias: DatabaseURL, database: DatabaseURL) -> None:
    """Let contexts on ``alias`` join isolations on ``database`` (under xdist: instances created from
    ``DATABASE_URL`` before the plugin pointed it at the worker's database)."""
    _aliases.append((alias, database))


def joins(url: DatabaseURL, leader: DatabaseURL) -> bool:
    """Whether a context on ``url`` joins an isolation on ``leader``'s database."""
    if url.same_database(leader):
        return True
    return any(url.same_database(alias) and leader.same_database(target) for alias, target in _aliases)
