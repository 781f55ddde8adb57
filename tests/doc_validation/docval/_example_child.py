"""One standalone doc example, run by pytest-examples in a fresh pytest process of its own.

The harness (runners/python.py) writes the block and a copy of this file to a fresh directory and
starts (as a fork of the harness's fork server, see forkserver.py), with plugin autoloading off::

    python -m pytest _example_child.py -p pytest_examples --update-examples

with ``DOCVAL_EXAMPLE`` (the block's file) and ``DOCVAL_RESULT`` (where the outcome goes) set, and
``DATABASE_URL`` pointing at a fresh database. pytest-examples runs the block as ``__main__`` and
computes the block with its ``#>`` comments rewritten from what it printed (its update mode; its
check mode is the same comparison). This test writes the outcome to ``DOCVAL_RESULT``: the
exception's type chain, message and traceback if the block raised, else the rewritten source when it
differs. The harness turns a difference into drift (or, with ``--update-docs``, into a rewrite).

Containment of pytest-examples' known failure: on Python 3.11 its traceback rewriting
(``create_example_traceback``) builds frames with a line table of the wrong format, and pytest's
INTERNALERROR follows when a block raises. The rewriting is switched off here (the harness maps the
block file's lines to the page itself), every exception is caught inside the test, and the harness
treats a run that wrote no result as that block's failure, with its ``page.md:LINE``.
"""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path
from typing import Any

import pytest
from pytest_examples import CodeExample, EvalExample
from pytest_examples import run_code as _run_code

_run_code.create_example_traceback = lambda *args, **kwargs: None  # keep the original traceback

LINE_LENGTH = 110


def _exception(exc: BaseException, module_file: str) -> dict[str, Any]:
    """The exception's type chain, message and traceback, starting at the block's own first frame
    (the frames of pytest and pytest-examples that ran it are left out)."""
    tb = exc.__traceback__
    while tb is not None and Path(tb.tb_frame.f_code.co_filename).name != module_file:
        tb = tb.tb_next
    return {
        "types": [f"{t.__module__}.{t.__qualname__}" for t in type(exc).__mro__],
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__)),
    }


def test_example(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    path = Path(os.environ["DOCVAL_EXAMPLE"])
    source = path.read_text(encoding="utf-8")
    example = CodeExample.create(source, path=path)
    evaluator = EvalExample(tmp_path=tmp_path, pytest_request=request)
    evaluator.set_config(line_length=LINE_LENGTH, target_version="py311")
    outcome: dict[str, Any] = {"exception": None, "updated": None}
    try:
        evaluator.run_print_update(example, rewrite_assertions=False)
    except BaseException as exc:  # noqa: BLE001 - the block's own exception is the report
        outcome["exception"] = _exception(exc, f"{example.module_name}.py")
    else:
        if example.source != source:
            outcome["updated"] = example.source
    Path(os.environ["DOCVAL_RESULT"]).write_text(json.dumps(outcome), encoding="utf-8")
