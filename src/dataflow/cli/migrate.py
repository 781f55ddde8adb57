"""``dataflow migrate``: generate, apply, roll back and check the migrations of an application.

```console
$ dataflow migrate --app myapp.models:db generate -m "add age"
$ dataflow migrate --app myapp.models:db up
$ dataflow migrate --app myapp.models:db check --json
```

The commands and their options are those of ``python -m dataflow.migrations`` (see
:mod:`dataflow.migrations`): ``generate``, ``up``, ``down``, ``history``, ``current``, ``check``,
``repair`` and ``stamp``.
"""

from __future__ import annotations

import argparse

from ..migrations import DESCRIPTION, add_arguments, run

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "migrate"


def _run(args: argparse.Namespace) -> int:
    return run(args, prog=f"dataflow {NAME}")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow migrate`` and its commands to the command line."""
    parser = commands.add_parser(
        NAME,
        help="generate, apply, roll back and check migrations",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=_run)
