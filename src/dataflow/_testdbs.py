"""The test databases the pytest plugin derives from ``DATABASE_URL``: list and drop them.

``<name>_gwN`` (one per pytest-xdist worker), ``<name>_main`` (a run without xdist that keeps its
database), ``<name>_template`` (what they are cloned from) and the
migration tests' ``<name>_migrations`` / ``<name>_gwN_migrations``. Used by the plugin's
``--dataflow-drop-db`` and by ``dataflow testdb``; no pytest import.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._dialects import backend_for, parse_url
from ._url import DatabaseURL

__all__ = ["DERIVED", "derived_test_databases", "drop_test_databases"]

#: What follows ``<name>_`` in the names of the databases the plugin derives from ``<name>``.
DERIVED = re.compile(r"(gw\d+|main)(_migrations)?|template|migrations")


def derived_test_databases(env_url: str) -> list[DatabaseURL]:
    """The worker, template and migration-test databases that exist for ``env_url``'s database."""
    url = parse_url(env_url)
    backend = backend_for(url)
    prefix, _, rest = backend.with_database_suffix(url, "\0").database.partition("\0")
    found = backend.test_databases.derived(url, url)
    return [
        d
        for d in found
        if d.database.startswith(prefix)
        and d.database.endswith(rest)
        and DERIVED.fullmatch(d.database[len(prefix) : len(d.database) - len(rest)])
    ]


def drop_test_databases(env_url: str) -> list[str]:
    """Drop every database :func:`derived_test_databases` lists; return their names."""
    url = parse_url(env_url)
    backend = backend_for(url)
    dropped = []
    for database in derived_test_databases(env_url):
        backend.drop_database(database, url)
        dropped.append(Path(database.database).name)
    return dropped
