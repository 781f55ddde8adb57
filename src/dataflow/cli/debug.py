"""``dataflow debug``: where a parameter gets its value, and what is broken.

```console
$ dataflow debug workflow.py --trace-parameter list.user_id
$ dataflow debug workflow.py --lineage list
```

``--trace-parameter NODE.PARAM`` (repeatable; ``PARAM`` may be a path such as ``filter.user_id``)
prints the parameter's trace: the connections into it with their types, or its static value.
``--lineage NODE`` prints every parameter of a node. Without either, it prints the broken
connections. Each problem comes with its DF- code and link.
"""

from __future__ import annotations

import argparse

from .._errors import UnknownNodeIdError
from ..platform import Inspector
from ._common import EXIT_FINDINGS, EXIT_OK, UsageError, add_command, emit
from ._workflow_file import add_workflow_argument, load_workflow

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "debug"

_DESCRIPTION = """Trace where parameters get their values (--trace-parameter node.param, --lineage node),
or list the broken connections, each problem with its DF- code.

Exit status: 0 the workflow is valid, 1 it has errors, 2 bad usage (also: a node id it lacks)."""


def _run(args: argparse.Namespace) -> int:
    workflow, label = load_workflow(args.workflow)
    inspector = Inspector(workflow)
    sections = [f"dataflow debug: {label}"]
    data: dict[str, object] = {"command": NAME, "workflow": label}
    try:
        traces = []
        for target in args.trace_parameter:
            node, dot, param = target.partition(".")
            if not dot or not param:
                raise UsageError(f"--trace-parameter {target!r}: write NODE.PARAM, for example list.user_id")
            trace = inspector.trace_parameter(node, param)
            traces.append(trace)
            sections.append("\n".join([str(trace.show()), *(f"{issue}" for issue in trace.issues)]))
        lineages = [inspector.parameter_lineage(node) for node in args.lineage]
    except UnknownNodeIdError as exc:
        raise UsageError(f"{exc.detail} ({exc.code}: {exc.url})") from None
    sections += [str(lineage.show()) for lineage in lineages]
    data["traces"] = [t.to_dict() for t in traces]
    data["lineages"] = [lineage.to_dict() for lineage in lineages]
    if not args.trace_parameter and not args.lineage:
        broken = inspector.broken_connections()
        sections.append(str(broken))
        data["broken_connections"] = broken.to_dict()
    validation = inspector.validate()
    sections.append(str(validation))
    data["validation"] = validation.to_dict()
    emit(args, "\n\n".join(sections), data)
    return EXIT_OK if validation.is_valid else EXIT_FINDINGS


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow debug`` to the command line."""
    parser = add_command(
        commands, NAME, help="trace parameters to their sources, list broken connections", description=_DESCRIPTION,
        run=_run,
    )
    add_workflow_argument(parser)
    parser.add_argument(
        "--trace-parameter", metavar="NODE.PARAM", action="append", default=[],
        help="trace one parameter (repeatable), e.g. list.user_id or list.filter.user_id",
    )
    parser.add_argument(
        "--lineage", metavar="NODE", action="append", default=[], help="every parameter of a node (repeatable)"
    )
