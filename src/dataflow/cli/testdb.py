"""``dataflow testdb``: list, or drop, the test databases the pytest plugin left behind.

```console
$ dataflow testdb                 # list <name>_gwN, <name>_main, <name>_template, <name>_*migrations
$ dataflow testdb --drop --json   # drop them
```

The plugin derives them from ``DATABASE_URL`` (or ``--url``): one database per pytest-xdist worker,
the template they are cloned from and the migration tests' databases. They stay between runs with
``--dataflow-reuse-db``; this command removes them without running the tests.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .._dialects import parse_url
from .._errors import DataFlowError
from .._testdbs import derived_test_databases, drop_test_databases
from ._common import EXIT_FINDINGS, EXIT_OK, UsageError, add_command, emit, plural

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "testdb"

_DESCRIPTION = """List the test databases the dataflow.testing plugin derives from DATABASE_URL (or --url):
<name>_gwN (one per pytest-xdist worker), <name>_main (a run without xdist that keeps its
database), <name>_template and the migration tests' databases.
With --drop, drop them.

Exit status: 0 none left (or all dropped), 1 test databases exist (without --drop), 2 bad usage."""


def _run(args: argparse.Namespace) -> int:
    env_url = args.url or os.environ.get("DATABASE_URL")
    if not env_url:
        raise UsageError("no database: set DATABASE_URL or pass --url")
    try:
        url = parse_url(env_url)
        if url.is_memory:
            raise UsageError(f"{url.redacted} is an in-memory database: it has no test databases")
        names = (
            drop_test_databases(env_url)
            if args.drop
            else [Path(d.database).name for d in derived_test_databases(env_url)]
        )
    except DataFlowError as exc:
        raise UsageError(str(exc)) from exc
    verb = "dropped" if args.drop else "found"
    lines = [f"dataflow testdb: {url.redacted}: {verb} {plural(len(names), 'test database')}"]
    lines += [f"  {name}" for name in names]
    emit(args, "\n".join(lines), {"command": NAME, "url": url.redacted, "dropped": args.drop, "databases": names})
    return EXIT_FINDINGS if names and not args.drop else EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow testdb`` to the command line."""
    parser = add_command(
        commands, NAME, help="list or drop the plugin's per-worker test databases", description=_DESCRIPTION,
        run=_run,
    )
    parser.add_argument("--url", help="the database the test databases derive from (default: DATABASE_URL)")
    parser.add_argument("--drop", action="store_true", help="drop the test databases")
