"""``dataflow analyze``: the structure of a workflow, in text a terminal and a review can read.

```console
$ dataflow analyze workflow.py
```

It prints the nodes in execution order with their inputs, what each node waits for, the parameter
flow with the types at both ends, the connection chains, the performance estimate from the
workflow's shape, and the validation result. Nothing runs.
"""

from __future__ import annotations

import argparse

from ..platform import Inspector
from ._common import EXIT_FINDINGS, EXIT_OK, add_command, emit
from ._workflow_file import add_workflow_argument, load_workflow

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "analyze"

_DESCRIPTION = """Show a workflow's structure: nodes in execution order with their inputs, the parameter
flow with types, the connection chains, a performance estimate and the validation result.

Exit status: 0 valid, 1 the workflow has errors, 2 bad usage."""


def _run(args: argparse.Namespace) -> int:
    workflow, label = load_workflow(args.workflow)
    inspector = Inspector(workflow)
    validation = inspector.validate()
    chains = inspector.trace_connection_chain()
    cycles = inspector.find_connection_cycles()
    report = inspector.estimate_performance()
    sections = [
        f"dataflow analyze: {label}",
        str(inspector.show()),
        str(inspector.show_execution_order()),
        str(inspector.show_parameter_flow()),
        "Connection chains:\n" + ("\n".join(f"  {' → '.join(c.nodes)}" for c in chains) or "  none"),
        str(cycles),
        str(report),
        str(validation),
    ]
    data = {
        "command": NAME,
        "workflow": label,
        "nodes": inspector.nodes().to_dict(),
        "execution_order": inspector.execution_order(),
        "connections": inspector.connections().to_dict(),
        "chains": [c.to_dict() for c in chains],
        "cycles": list(cycles),
        "performance": report.to_dict(),
        "validation": validation.to_dict(),
    }
    emit(args, "\n\n".join(sections), data)
    return EXIT_OK if validation.is_valid else EXIT_FINDINGS


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow analyze`` to the command line."""
    parser = add_command(
        commands, NAME, help="show a workflow's structure, parameter flow and estimate", description=_DESCRIPTION,
        run=_run,
    )
    add_workflow_argument(parser)
