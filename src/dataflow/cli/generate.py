"""``dataflow generate``: the nodes a model gets, with their parameters and outputs.

```console
$ dataflow generate models.py
$ dataflow generate models.py:User --operations CREATE,READ,UPDATE
```

The file's models are the classes registered with ``@db.model`` on a ``DataFlow`` instance the
file creates, and plain annotated classes with an ``id`` field (as ``dataflow_models`` takes them),
which are registered on a throwaway in-memory instance. Nothing connects to a database.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._dataflow import DataFlow
from .._errors import DataFlowError
from .._nodes import OPERATIONS, Node
from .._workflow import WorkflowBuilder
from ..platform import Inspector
from ._common import EXIT_FINDINGS, EXIT_OK, UsageError, add_command, emit
from ._workflow_file import import_file, split_spec

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "generate"

_DESCRIPTION = """Print the nodes a model gets (UserCreateNode, UserReadNode, ...), each with its parameters
(type, required, description) and its outputs.

Exit status: 0 printed, 1 a model is invalid (DF-104), 2 bad usage (no such file or model)."""


def _operations(text: str | None) -> list[str]:
    if not text:
        return list(OPERATIONS)
    wanted = [part.strip().replace("_", "").replace("-", "").lower() for part in text.split(",") if part.strip()]
    by_key = {name.lower(): name for name in OPERATIONS}
    unknown = [w for w in wanted if w not in by_key]
    if unknown:
        raise UsageError(f"--operations: unknown {', '.join(unknown)}; use {', '.join(o.upper() for o in OPERATIONS)}")
    return [by_key[w] for w in wanted]


def _models(spec: str) -> tuple[list[tuple[str, dict[str, type[Node]]]], list[str]]:
    """``[(model name, {node name: node class})]`` of the file, and the errors of invalid models."""
    path, only = split_spec(spec)
    module = import_file(path)
    found: dict[str, dict[str, type[Node]]] = {}
    for value in vars(module).values():
        if isinstance(value, DataFlow):
            for name in value.models:
                found.setdefault(name, {k: v for k, v in value.nodes.items() if v.model.name == name})
    errors: list[str] = []
    scratch: DataFlow | None = None
    for value in list(vars(module).values()):
        if (
            isinstance(value, type)
            and value.__module__ == module.__name__
            and "id" in getattr(value, "__annotations__", {})
            and value.__name__ not in found
            and (only is None or value.__name__ == only)
        ):
            scratch = scratch or DataFlow("sqlite:///:memory:")
            try:
                scratch.model(value)
            except DataFlowError as exc:
                errors.append(str(exc))
                continue
            found[value.__name__] = {k: v for k, v in scratch.nodes.items() if v.model.name == value.__name__}
    if only is not None:
        if only not in found and not errors:
            raise UsageError(f"{path} has no model {only!r}; models: {', '.join(found) or 'none'}")
        found = {k: v for k, v in found.items() if k == only}
    if not found and not errors:
        raise UsageError(f"{path} defines no model (a class with an 'id' field, or one registered with @db.model)")
    return list(found.items()), errors


def _run(args: argparse.Namespace) -> int:
    operations = _operations(args.operations)
    models, errors = _models(args.target)
    sections: list[str] = []
    data: dict[str, Any] = {"command": NAME, "models": [], "errors": errors}
    for model, nodes in models:
        chosen = [nodes[f"{model}{op}Node"] for op in operations if f"{model}{op}Node" in nodes]
        infos = [Inspector(WorkflowBuilder()).node_signature(cls) for cls in chosen]
        sections.append(f"Model {model} (table {chosen[0].model.table}): {len(infos)} nodes" if infos else model)
        sections += [str(info.show()) for info in infos]
        data["models"].append({"model": model, "nodes": [info.to_dict() for info in infos]})
    sections += errors
    emit(args, "\n\n".join(sections), data)
    return EXIT_FINDINGS if errors else EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow generate`` to the command line."""
    parser = add_command(
        commands, NAME, help="print the nodes a model gets, with parameters and outputs", description=_DESCRIPTION,
        run=_run,
    )
    parser.add_argument("target", metavar="FILE[:MODEL]", help="a Python file with models, or one model of it")
    parser.add_argument(
        "--operations", metavar="OPS", help="only these operations, comma-separated: CREATE,READ,UPDATE,..."
    )
