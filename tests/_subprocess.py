"""The one environment for child processes of the test suite (inner pytest runs, scripts, doc blocks).

A child must not inherit what belongs to the outer run: pytest's and xdist's variables (an inner suite
would otherwise believe it is worker ``gw0`` of the outer run, or pick up its ``PYTEST_ADDOPTS``), the
doc harness's settings, coverage's, and the outer test's ``DATABASE_URL``. Everything else (PATH,
proxies, ``CI``, ``DATAFLOW_TEST_POSTGRES_URL``) is kept, then the overrides are applied.

``PYTHONDONTWRITEBYTECODE`` does not reach a child either: without bytecode files, pytest rewrites
the asserts of every installed plugin's modules (about 300: hypothesis, schemathesis, anyio, ...)
in each inner pytest process again, which made an empty inner run 2.3 s instead of 1.0 s here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Variables of the outer run that never reach a child (prefixes, then exact names).
OUTER_RUN_PREFIXES = ("PYTEST", "DOC_VALIDATION_", "COV_")
OUTER_RUN_NAMES = frozenset({"DATABASE_URL", "PYTHONDONTWRITEBYTECODE"})
#: ``-p no:`` options for the plugins of this repository's own test environment (schemathesis for
#: the gateway tests, hypothesis, pytest-postgresql with psycopg): no inner suite or docs page uses
#: them, and importing them costs every inner pytest process about 0.3 s (0.8 s -> 0.5 s an empty run).
DEV_ONLY_PLUGINS = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:pytest_postgresql")


def child_env(base: Mapping[str, str] | None = None, /, **overrides: str | None) -> dict[str, str]:
    """``base`` (default: ``os.environ``) without the outer run's variables, plus ``overrides``.

    An override of ``None`` removes the variable: ``child_env(DATABASE_URL=url)`` sets it,
    ``child_env(TMPDIR=None)`` drops it.
    """
    source = os.environ if base is None else base
    env = {
        key: value
        for key, value in source.items()
        if key not in OUTER_RUN_NAMES and not key.startswith(OUTER_RUN_PREFIXES)
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
