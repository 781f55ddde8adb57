"""``dataflow init``: a new project whose one test passes on both backends and that doctor finds clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from _clihelp import child_env, run

from dataflow.cli.init import TEMPLATE_FILES, template

REPO = Path(__file__).resolve().parents[2]
Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_init_project_passes_on_this_backend_and_doctor_finds_nothing(
    cli: Cli, tmp_path: Path, test_db_url: str
) -> None:
    proc = cli("init", "shop", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:5] == [
        "Created a DataFlow test project in shop:",
        "  pytest.ini",
        "  conftest.py",
        "  models.py",
        "  test_users.py",
    ]
    assert "  cd shop && python -m pytest" in proc.stdout
    project = tmp_path / "shop"
    assert sorted(p.name for p in project.iterdir()) == sorted(TEMPLATE_FILES)

    tests = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-q"],
        project,
        child_env(test_db_url),
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert re.search(r"^1 passed", tests.stdout, flags=re.MULTILINE), tests.stdout

    doctor = cli("doctor", cwd=project)
    assert doctor.returncode == 0, doctor.stdout
    assert doctor.stdout.endswith("No problems found.\n")
    doctor = cli("doctor", "--import", cwd=project)
    assert doctor.returncode == 0, doctor.stdout


def test_init_into_the_current_directory_with_json(cli: Cli, tmp_path: Path) -> None:
    proc = cli("init", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"command": "init", "directory": ".", "files": list(TEMPLATE_FILES)}


def test_init_never_overwrites_without_force(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("# mine\n", encoding="utf-8")
    proc = cli("init", cwd=tmp_path)
    assert proc.returncode == 2
    assert "already has conftest.py; nothing was written (use --force to overwrite)" in proc.stderr
    assert (tmp_path / "conftest.py").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "pytest.ini").exists()

    proc = cli("init", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "conftest.py").read_text(encoding="utf-8") == template("conftest.py")


def test_init_into_a_file_is_bad_usage(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("", encoding="utf-8")
    proc = cli("init", "taken", cwd=tmp_path)
    assert proc.returncode == 2
    assert "exists and is not a directory" in proc.stderr


def test_the_template_is_the_guides_setup() -> None:
    # pytest.ini is the guide's (examples/pytest.ini); the guide shows the other files of the
    # project through --8<-- includes of the templates themselves, so the docs build runs them.
    assert template("pytest.ini") == (REPO / "examples/pytest.ini").read_text(encoding="utf-8")
    guide = (REPO / "docs/guide/debugging.md").read_text(encoding="utf-8")
    for name in TEMPLATE_FILES:
        source = name if name.endswith(".ini") else name + ".tmpl"
        assert f'--8<-- "src/dataflow/cli/project_template/{source}"' in guide, name
