"""The runners, one module per kind of block (see docs/contributing/doc-blocks.md for the kinds)."""

from __future__ import annotations

from .output import normalise_terminal, run_output
from .project import run_project
from .python import OUTPUT_LINE, print_drift, run_python
from .sql import run_sql
from .static import static_problems

__all__ = ["OUTPUT_LINE", "normalise_terminal", "print_drift", "run_output", "run_project", "run_python",
           "run_sql", "static_problems"]
