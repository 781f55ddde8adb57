"""Workflow files: a Python file that defines a ``WorkflowBuilder``, named as ``file.py`` or ``file.py:attr``.

The file is imported like a script (its directory first on ``sys.path``, so it can import its
neighbours) and must not need command-line arguments. ``file.py:attr`` names a module-level
``WorkflowBuilder``, a built ``Workflow``, or a function without arguments that returns one;
``file.py`` alone finds the single builder (or workflow) the module defines.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from .._url import redact
from .._workflow import Workflow, WorkflowBuilder
from ._common import UsageError

__all__ = ["add_workflow_argument", "import_file", "load_object", "load_workflow", "pick", "split_spec"]


def add_workflow_argument(parser: Any) -> None:
    """Add the ``WORKFLOW`` positional argument (``file.py`` or ``file.py:attr``)."""
    parser.add_argument(
        "workflow",
        metavar="FILE[:ATTR]",
        help="a Python file that defines a WorkflowBuilder; name one with file.py:attr when it defines several",
    )


def split_spec(spec: str) -> tuple[Path, str | None]:
    """``"file.py:attr"`` -> ``(Path("file.py"), "attr")``; ``"file.py"`` -> ``(Path("file.py"), None)``."""
    path, colon, attr = spec.rpartition(":") if spec.count(":") and not Path(spec).exists() else (spec, "", "")
    if not colon:
        return Path(spec), None
    return Path(path), attr or None


def import_file(path: Path) -> ModuleType:
    """Import ``path`` as a fresh module (UsageError, exit status 2, when it is missing or fails)."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    name = f"dataflow_cli_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise UsageError(f"importing {path} called sys.exit({exc.code!r}); a workflow file must not exit") from None
    except Exception as exc:
        detail = redact("".join(traceback.format_exception_only(type(exc), exc)).strip())
        raise UsageError(f"importing {path} failed:\n{detail}") from None
    return module


def _resolve(value: Any, label: str, kinds: tuple[type, ...]) -> Any:
    if isinstance(value, kinds):
        return value
    if callable(value) and not isinstance(value, type):
        try:
            produced = value()
        except TypeError as exc:
            raise UsageError(f"{label} is a function that needs arguments ({exc}); name a builder instead") from None
        if isinstance(produced, kinds):
            return produced
        raise UsageError(f"{label}() returned a {type(produced).__name__}, not a WorkflowBuilder")
    names = " or ".join(k.__name__ for k in kinds)
    raise UsageError(f"{label} is a {type(value).__name__}, not a {names}")


def pick(module: ModuleType, spec: str, *groups: tuple[type, ...], what: str) -> tuple[Any, str]:
    """The object of an imported workflow file that ``spec`` (``file.py[:attr]``) names, and its label.

    With ``:attr`` the object must be of a type in ``groups`` (or a function without arguments
    returning one). Without it the module must define exactly one module-level object of the first
    group that it has any object of.
    """
    kinds = tuple(kind for group in groups for kind in group)
    path, attr = split_spec(spec)
    if attr is not None:
        if not hasattr(module, attr):
            defined = [k for k, v in vars(module).items() if isinstance(v, kinds)]
            raise UsageError(f"{path} has no {attr!r}" + (f"; it defines: {', '.join(defined)}" if defined else ""))
        return _resolve(getattr(module, attr), f"{path}:{attr}", kinds), f"{path}:{attr}"
    for group in groups:
        found = [(k, v) for k, v in vars(module).items() if isinstance(v, group) and not k.startswith("_")]
        if len(found) > 1:
            names = ", ".join(k for k, _ in found)
            raise UsageError(f"{path} defines several ({names}); name one with {path}:{found[0][0]}")
        if found:
            return found[0][1], f"{path}:{found[0][0]}"
    raise UsageError(f"{path} defines no {what} at module level; name one with {path}:attr")


def load_object(spec: str, *groups: tuple[type, ...], what: str) -> tuple[Any, str]:
    """Import the file of ``spec`` and :func:`pick` the object it names."""
    return pick(import_file(split_spec(spec)[0]), spec, *groups, what=what)


def load_workflow(spec: str) -> tuple[WorkflowBuilder | Workflow, str]:
    """The workflow a ``file.py[:attr]`` argument names, and its label."""
    workflow, label = load_object(spec, (WorkflowBuilder, Workflow), what="WorkflowBuilder")
    return workflow, label

