"""``dataflow perf``: what a workflow costs, estimated from its shape or measured in a real run.

```console
$ dataflow perf workflow.py
$ DATABASE_URL=sqlite:///perf_test.db dataflow perf workflow.py --profile
```

Without ``--profile`` nothing runs: it counts each node's SQL statements and round trips and
points out per-row work a bulk node does in one transaction. With ``--profile`` it runs the
workflow for real (writes included), node by node as ``LocalRuntime`` does, and reports each
node's time; run it against a test database.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._errors import DataFlowError
from ..platform import Inspector
from ._common import EXIT_FINDINGS, EXIT_OK, add_command, emit
from ._workflow_file import add_workflow_argument, load_workflow

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "perf"

_DESCRIPTION = """Estimate a workflow's statements and round trips from its shape, with hints; with --profile,
run it for real (node by node, as LocalRuntime does) and report each node's time.

Exit status: 0 done, 1 the profiled run failed (its DF- error is printed), 2 bad usage."""


def _run(args: argparse.Namespace) -> int:
    workflow, label = load_workflow(args.workflow)
    inspector = Inspector(workflow)
    report = inspector.estimate_performance()
    sections = [f"dataflow perf: {label}", str(report)]
    data: dict[str, Any] = {"command": NAME, "workflow": label, "estimate": report.to_dict(), "profile": None}
    status = EXIT_OK
    if args.profile:
        try:
            profile = inspector.profile()
        except DataFlowError as exc:
            sections.append(f"The profiled run failed at node {exc.context.get('node', '?')!r}:\n{exc}")
            data["error"] = {"code": exc.code, "message": str(exc), "node": exc.context.get("node")}
            status = EXIT_FINDINGS
        else:
            sections.append(str(profile))
            data["profile"] = profile.to_dict()
    emit(args, "\n\n".join(sections), data)
    return status


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow perf`` to the command line."""
    parser = add_command(
        commands, NAME, help="estimate a workflow's cost; --profile runs it and times each node",
        description=_DESCRIPTION, run=_run,
    )
    add_workflow_argument(parser)
    parser.add_argument(
        "--profile", action="store_true", help="run the workflow for real (it writes!) and time each node"
    )
