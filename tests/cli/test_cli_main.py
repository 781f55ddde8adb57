"""The ``dataflow`` console script itself: help, version, exit statuses for bad usage."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from _clihelp import child_env, dataflow_command, run

from dataflow import __version__
from dataflow.cli import COMMANDS


def command_names() -> list[str]:
    return [module.NAME for module in COMMANDS]


def test_help_lists_every_command(tmp_path: Path) -> None:
    proc = run([dataflow_command(), "--help"], tmp_path, child_env(None), fork=False)  # the script itself
    assert proc.returncode == 0, proc.stderr
    listed = re.findall(r"^    (\w+) ", proc.stdout, flags=re.MULTILINE)
    assert listed == command_names()
    assert "migrate" in listed


def test_every_command_has_help_and_json(tmp_path: Path) -> None:
    for name in command_names():
        proc = run([dataflow_command(), name, "--help"], tmp_path, child_env(None))
        assert proc.returncode == 0, (name, proc.stderr)
        assert f"usage: dataflow {name}" in proc.stdout
        assert "--json" in proc.stdout, name
        assert "Exit status" in proc.stdout, name


def test_python_dash_m_dataflow_is_the_same_command(tmp_path: Path) -> None:
    proc = run([sys.executable, "-m", "dataflow", "--version"], tmp_path, child_env(None), fork=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"dataflow {__version__}"


def test_no_command_is_bad_usage(tmp_path: Path) -> None:
    proc = run([dataflow_command()], tmp_path, child_env(None), fork=False)
    assert proc.returncode == 2
    assert "usage: dataflow" in proc.stderr


def test_unknown_command_and_option_are_bad_usage(tmp_path: Path) -> None:
    for args in (["frobnicate"], ["doctor", "--no-such-option"], ["migrate"], ["migrate", "upp"]):
        proc = run([dataflow_command(), *args], tmp_path, child_env(None))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "error:" in proc.stderr
