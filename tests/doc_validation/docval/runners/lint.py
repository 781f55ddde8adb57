"""Ruff lint and format check of every Python block, with pytest-examples.

pytest-examples' ``ruff_check`` runs ``ruff check -`` on the block's source from the repository root,
so the rules, line length and first-party packages of ``pyproject.toml`` apply, and it maps ruff's
``-:LINE`` back to ``page.md:LINE``. Its ``black_check`` is the format check, at the project's line
length. The harness's own extraction gives it the blocks (pytest-examples' finder sees neither brace
attributes, tabs, includes nor page projects). Both run ruff and black as subprocesses or plain
functions, never the block itself, and anything they raise is reported as this block's problem.
"""

from __future__ import annotations

from pathlib import Path

from pytest_examples import CodeExample
from pytest_examples.config import ExamplesConfig
from pytest_examples.lint import FormatError, black_check, ruff_check

from ..grammar import PYTHON, Action, Classified

#: pyproject.toml's [tool.ruff] line-length, which the formatter wraps at.
LINE_LENGTH = 110

#: Project rules that cannot apply to a block shown on a page, and why.
SNIPPET_IGNORES: dict[str, str] = {
    "F811": "a block may show two versions of one model, before and after a change, under one class name",
    "UP045": "the pages show Optional[X] next to X | None: DataFlow accepts both spellings",
    "E501": "a #> comment is what the code prints, and cannot be wrapped; black (below) wraps the code itself",
}

LINTED = (Action.PYTHON, Action.PROJECT)


def _config() -> ExamplesConfig:
    # target_version: pytest-examples defaults to py37, which would override pyproject.toml's py311.
    # ruff_line_length: without it pytest-examples switches E501 off (it expects black to wrap lines).
    return ExamplesConfig(line_length=LINE_LENGTH, target_version="py311", ruff_line_length=LINE_LENGTH,
                          ruff_ignore=sorted(SNIPPET_IGNORES))


def ruff_problems(c: Classified) -> list[str]:
    """Ruff's findings and black's diff for a Python block, as ``page.md:LINE`` problems."""
    block = c.block
    if c.action not in LINTED or block.lang not in PYTHON:
        return []
    where = "the included file (fix it there)" if block.from_snippet else "the block"
    example = CodeExample.create(block.content.rstrip("\n") + "\n", path=Path(block.rel), start_line=block.line)
    problems = []
    for name, check in (("ruff", _ruff), ("black", black_check)):
        try:
            check(example, _config())
        except FormatError as exc:
            problems.append(f"{block.label}: {name} rejects {where}\n{exc}")
        except Exception as exc:  # noqa: BLE001 - a crash of the tool is this block's failure, not pytest's
            problems.append(f"{block.label}: {name} could not check {where}: {type(exc).__name__}: {exc}")
    return problems


def _ruff(example: CodeExample, config: ExamplesConfig) -> None:
    ruff_check(example, config, extra_ruff_args=("--output-format=concise",))
