"""The harness plugin, loaded for the whole suite, changes nothing for tests that are not doc blocks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _subprocess import child_env

TESTS = Path(__file__).resolve().parents[1]

INNER = '''
import pytest


def test_plain(request):
    assert not list(request.node.iter_markers("xdist_group"))


@pytest.mark.parametrize("n", [1, 2])
def test_parametrized(n):
    assert n in (1, 2)
'''

CONFTEST = '''
def pytest_terminal_summary(terminalreporter, config):
    terminalreporter.write_line(f"inner dist: {config.option.dist}")
'''


def test_plugin_leaves_other_tests_alone(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "doc_validation.docval.plugin", "-p", "no:randomly",
         "-p", "no:cacheprovider", "-n", "2", "-q", str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=child_env(PYTHONPATH=str(TESTS)), capture_output=True, text=True, timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "3 passed" in output, output
    assert "doc validation" not in output, output
    assert "inner dist: load" in output, output  # xdist's own choice for -n, not loadgroup
