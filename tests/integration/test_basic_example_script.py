"""scripts/basic_example.py runs as a subprocess on both backends and prints the expected results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _subprocess import child_env

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "basic_example.py"

EXPECTED = """\
backend: {backend}
created: {{'id': 1, 'name': 'Alice', 'email': 'alice@example.com', 'age': 30, 'active': True}}
read: {{'id': 1, 'name': 'Alice', 'email': 'alice@example.com', 'age': 30, 'active': True}}
count: 3
active adults: ['Alice', 'Bob']
upsert alice@example.com: updated (name=Alice Smith)
upsert dave@example.com: created (name=Dave)
bulk created: 1000
total users: 1004
users over 60: 180
"""


def test_basic_example_script(backend: str, database_url: str) -> None:
    env = child_env(DATABASE_URL=database_url)
    for _ in range(2):  # re-runnable: it drops its table at the start and at the end
        result = subprocess.run(
            [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == EXPECTED.format(backend=backend)
        assert "Traceback" not in result.stderr


def test_basic_example_script_defaults_to_sqlite(tmp_path: Path) -> None:
    env = child_env(TMPDIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED.format(backend="sqlite")
    assert (tmp_path / "dataflow_basic_example.db").exists()
