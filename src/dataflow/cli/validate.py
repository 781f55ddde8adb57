"""``dataflow validate``: check a workflow before running it, as ``build()`` and the runtime would.

```console
$ dataflow validate workflow.py
$ dataflow validate workflow.py:nightly --strict --json
```

It reports every problem at once (``build()`` stops at the first), each with its DF- code and link:
unknown node types, duplicate ids, cycles, connections to missing nodes, parameters a node does
not take, invalid static values, outputs a connection reads that do not exist, and types that do not
fit across a connection. Nothing runs and nothing connects to a database.
"""

from __future__ import annotations

import argparse

from ..platform import Inspector
from ._common import EXIT_FINDINGS, EXIT_OK, add_command, emit
from ._workflow_file import add_workflow_argument, load_workflow

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "validate"

_DESCRIPTION = """Check a workflow before running it: every problem build() or the runtime would raise,
each with its DF- code and link, without running anything.

Exit status: 0 valid, 1 errors (or warnings with --strict), 2 bad usage."""


def _run(args: argparse.Namespace) -> int:
    workflow, label = load_workflow(args.workflow)
    result = Inspector(workflow).validate()
    failed = not result.is_valid or (args.strict and bool(result["warnings"]))
    text = f"dataflow validate: {label}\n{result}"
    emit(args, text, {"command": NAME, "workflow": label, **result.to_dict(), "strict": args.strict})
    return EXIT_FINDINGS if failed else EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow validate`` to the command line."""
    parser = add_command(
        commands, NAME, help="check a workflow before running it (DF- codes)", description=_DESCRIPTION, run=_run
    )
    add_workflow_argument(parser)
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
