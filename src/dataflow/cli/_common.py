"""What every command shares: exit statuses, ``--json``, usage errors and printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "add_command",
    "emit",
    "plural",
]

#: Nothing to report.
EXIT_OK = 0
#: Findings: problems in a workflow or a test setup, or a run that failed.
EXIT_FINDINGS = 1
#: Bad usage: an unknown option, a missing file, a workflow file without a workflow.
EXIT_USAGE = 2


class UsageError(Exception):
    """The command was called in a way it cannot work with; printed as ``error: ...``, exit status 2."""


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """Add the sub-command ``name`` with its ``--json`` flag; ``run(args)`` returns the exit status."""
    parser = commands.add_parser(
        name,
        help=help,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON (for scripts and CI)")
    parser.set_defaults(run=run)
    return parser


def emit(args: argparse.Namespace, text: str, data: dict[str, Any]) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else ``text``."""
    if args.json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``"1 problem"``, ``"2 problems"``."""
    return f"{count} {word if count == 1 else (words or word + 's')}"
