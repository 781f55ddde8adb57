"""The ``dataflow`` command line.

Installed with the package as the console script ``dataflow`` (also ``python -m dataflow``).
Every command takes ``--help`` and ``--json``, and exits with one of three statuses:

* ``0``: nothing to report (the workflow is valid, the project has no problem, the files were written);
* ``1``: findings (problems in the workflow or the test setup, a failed run);
* ``2``: bad usage (unknown option, a file that does not exist, a workflow file without a workflow).

```console
$ dataflow --help
$ dataflow doctor
$ dataflow migrate --app myapp.models:db up
$ dataflow init my-project
```
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from . import analyze, debug, doctor, generate, init, migrate, monitor, perf, testdb, validate
from ._common import EXIT_USAGE, UsageError

__all__ = ["build_parser", "main"]

#: The command modules, in the order ``dataflow --help`` lists them.
COMMANDS = (validate, analyze, debug, generate, perf, monitor, doctor, migrate, init, testdb)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dataflow`` with every command registered."""
    parser = argparse.ArgumentParser(
        prog="dataflow",
        description=(
            "DataFlow's command line: inspect workflows, diagnose a project's async test setup and "
            "migrate its database. "
            "Exit status: 0 nothing to report, 1 findings, 2 bad usage."
        ),
    )
    parser.add_argument("--version", action="version", version=f"dataflow {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dataflow`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status: int = args.run(args)
    except UsageError as exc:
        print(f"dataflow {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return status
