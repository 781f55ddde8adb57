"""validate, analyze, debug, generate, perf and monitor, each run as a subprocess on both backends.

The workflow files read ``DATABASE_URL`` (set to a fresh test database by the ``cli`` fixture), so
``perf --profile`` and ``monitor`` run against the backend of the test.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent

import pytest
from _clihelp import write_files

Cli = Callable[..., subprocess.CompletedProcess[str]]

MODELS = """
    import os

    from dataflow import DataFlow, Field

    db = DataFlow(os.environ["DATABASE_URL"])


    @db.model
    class User:
        id: str
        name: str
        email: str = Field(unique=True)


    @db.model
    class Order:
        id: int
        user_id: int
        total: float
"""

BROKEN = MODELS + """

    workflow = db.workflow()
    workflow.add_node("UserReadNode", "read", {"id": "user-123"})
    workflow.add_node("OrderListNode", "list", {"limit": 10})
    workflow.add_connection("read", "id", "list", "user_id")
"""

GOOD = MODELS + """

    workflow = db.workflow()
    workflow.add_node("UserCreateNode", "create", {"id": "u1", "name": "Ada", "email": "ada@example.com"})
    workflow.add_node("OrderCreateNode", "order", {"user_id": 7, "total": 9.5})
    workflow.add_node("OrderCountNode", "count")
    workflow.add_connection("order", "user_id", "count", "filter.user_id")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(tmp_path, {"broken.py": BROKEN, "good.py": GOOD, "models.py": MODELS})


def test_validate(cli: Cli, project: Path) -> None:
    proc = cli("validate", "good.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "dataflow validate: good.py:workflow\nValid: no errors, no warnings.\n"
    proc = cli("validate", "broken.py", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[1:3] == [
        "Not valid: 2 errors, 0 warnings.",
        "ERROR: Connection read.id → list.user_id has type mismatch",
    ]
    assert "did you mean 'filter.user_id'?" in proc.stdout
    data = json.loads(cli("validate", "broken.py:workflow", "--json", cwd=project).stdout)
    assert data["is_valid"] is False and [e["code"] for e in data["errors"]] == ["DF-103", "DF-105"]
    assert data["errors"][0]["url"].endswith("troubleshooting/errors/#df-103")


def test_validate_strict_fails_on_warnings(cli: Cli, project: Path) -> None:
    write_files(
        project,
        {
            "dates.py": """
                from datetime import date

                from dataflow import DataFlow

                db = DataFlow()


                @db.model
                class Event:
                    id: int
                    title: str
                    day: date


                workflow = db.workflow()
                workflow.add_node("EventReadNode", "read", {"id": 1})
                workflow.add_node("EventCountNode", "count")
                workflow.add_connection("read", "title", "count", "filter.day")
            """
        },
    )
    assert cli("validate", "dates.py", cwd=project).returncode == 0
    proc = cli("validate", "dates.py", "--strict", cwd=project)
    assert proc.returncode == 1
    assert "WARNING: Connection read.title → count.filter.day passes a string that must parse as date" in proc.stdout


def test_workflow_files_that_cannot_be_used_are_bad_usage(cli: Cli, project: Path) -> None:
    write_files(
        project,
        {
            "two.py": "from dataflow import WorkflowBuilder\n\na = WorkflowBuilder()\nb = WorkflowBuilder()\n",
            "none.py": "x = 1\n",
            "boom.py": "raise RuntimeError('no DATABASE_URL for postgresql://me:Hunter2-s3cret@db/x')\n",
        },
    )
    cases = {
        ("missing.py",): "missing.py: no such file",
        ("two.py",): "two.py defines several (a, b); name one with two.py:a",
        ("none.py",): "none.py defines no WorkflowBuilder at module level; name one with none.py:attr",
        ("good.py:nope",): "good.py has no 'nope'; it defines: workflow",
        ("good.py:db",): "good.py:db is a DataFlow, not a WorkflowBuilder or Workflow",
        ("boom.py",): "importing boom.py failed:\nRuntimeError: no DATABASE_URL for postgresql://me:***@db/x",
    }
    for args, message in cases.items():
        proc = cli("validate", *args, cwd=project)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Hunter2-s3cret" not in proc.stderr


def test_a_function_returning_a_workflow_can_be_named(cli: Cli, project: Path) -> None:
    write_files(project, {"factory.py": dedent(GOOD) + "\n\ndef nightly():\n    return workflow.build()\n"})
    proc = cli("validate", "factory.py:nightly", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("dataflow validate: factory.py:nightly\n")


def test_analyze(cli: Cli, project: Path) -> None:
    proc = cli("analyze", "good.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    sections = proc.stdout.split("\n\n")
    assert sections[1].splitlines()[0] == "Workflow: 3 nodes, 1 connection"
    assert "Execution order:\n1. create (UserCreateNode)\n2. order (OrderCreateNode)" in proc.stdout
    assert "order.user_id (integer) → count.filter.user_id (integer)" in proc.stdout
    assert "Connection chains:\n  order → count" in proc.stdout
    assert proc.stdout.endswith("Valid: no errors, no warnings.\n")
    assert cli("analyze", "broken.py", cwd=project).returncode == 1
    data = json.loads(cli("analyze", "good.py", "--json", cwd=project).stdout)
    assert data["execution_order"] == ["create", "order", "count"]
    assert data["performance"]["statements"] == 3


def test_debug_trace_parameter_and_lineage(cli: Cli, project: Path) -> None:
    proc = cli("debug", "broken.py", "--trace-parameter", "list.user_id", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.startswith(
        "dataflow debug: broken.py:workflow\n\nParameter Trace: list.user_id\n└─ read.id (string)\n"
    )
    proc = cli("debug", "good.py", "--trace-parameter", "count.filter", "--lineage", "order", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "Parameter Trace: count.filter\n└─ filter.user_id ← order.user_id (integer)" in proc.stdout
    assert "Parameters of order (OrderCreateNode)" in proc.stdout
    proc = cli("debug", "broken.py", cwd=project)
    assert "Found 1 broken connection: read.id → list.user_id" in proc.stdout
    for bad, message in (("lst.user_id", "Node 'lst' is not in this workflow (did you mean 'list'?)"),
                         ("list", "--trace-parameter 'list': write NODE.PARAM")):
        proc = cli("debug", "broken.py", "--trace-parameter", bad, cwd=project)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "DF-409" in cli("debug", "broken.py", "--trace-parameter", "lst.x", cwd=project).stderr
    data = json.loads(cli("debug", "broken.py", "--trace-parameter", "list.user_id", "--json", cwd=project).stdout)
    assert data["traces"][0]["sources"][0]["connection"]["source_type"] == "str"


def test_generate(cli: Cli, project: Path) -> None:
    proc = cli("generate", "models.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "Model User (table users): 11 nodes" in proc.stdout
    assert "Model Order (table orders): 11 nodes" in proc.stdout
    proc = cli("generate", "models.py:Order", "--operations", "CREATE,READ,BULK_CREATE", cwd=project)
    blocks = proc.stdout.split("\n\n")
    assert blocks[0] == "Model Order (table orders): 3 nodes"
    assert [b.splitlines()[0] for b in blocks[1:]] == [
        "OrderCreateNode: create on model Order",
        "OrderReadNode: read on model Order",
        "OrderBulkCreateNode: bulk_create on model Order",
    ]
    assert "    user_id        int       required" in blocks[1]
    # Plain model classes (as dataflow_models takes them) work too.
    write_files(project, {"plain.py": "class Note:\n    id: int\n    text: str\n\n\nclass Helper:\n    x: int\n"})
    data = json.loads(cli("generate", "plain.py", "--json", cwd=project).stdout)
    assert [m["model"] for m in data["models"]] == ["Note"]
    assert data["models"][0]["nodes"][0]["params"][1] == {
        "name": "text", "description": data["models"][0]["nodes"][0]["params"][1]["description"],
        "required": True, "aliases": [], "type": "str",
    }
    assert cli("generate", "plain.py:Nope", cwd=project).returncode == 2
    assert "unknown frob" in cli("generate", "plain.py", "--operations", "frob", cwd=project).stderr
    write_files(project, {"bad.py": "class Thing:\n    id: int\n    _secret: str\n"})
    proc = cli("generate", "bad.py", cwd=project)
    assert proc.returncode == 1 and "DF-104" in proc.stdout


def test_perf_estimate_and_profile(cli: Cli, project: Path) -> None:
    proc = cli("perf", "good.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "Performance estimate (from the workflow's shape; nothing ran):" in proc.stdout
    assert "Profile" not in proc.stdout
    data = json.loads(cli("perf", "good.py", "--profile", "--json", cwd=project).stdout)
    assert [n["node"] for n in data["profile"]["nodes"]] == ["create", "order", "count"]
    assert all(n["ms"] > 0 for n in data["profile"]["nodes"])
    # The profile ran for real: a second run fails on the unique email, and says where.
    proc = cli("perf", "good.py", "--profile", cwd=project)
    assert proc.returncode == 1
    assert "The profiled run failed at node 'create':\nDF-302" in proc.stdout


def test_monitor_a_workflow_file(cli: Cli, project: Path) -> None:
    counts = dedent(MODELS) + '\nworkflow = db.workflow().add_node("OrderCountNode", "count")\n'
    write_files(project, {"counts.py": counts})
    proc = cli("monitor", "counts.py", "--runs", "2", cwd=project)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "dataflow monitor: counts.py:workflow"
    assert "after run 2, db (" in lines[2] and "pools created 1, pools cleaned 0" in lines[2]
    assert "after the runtime closed" in lines[3] and "pools cleaned 1" in lines[3] and "active pools 0" in lines[3]
    data = json.loads(cli("monitor", "counts.py:db", "--json", cwd=project).stdout)
    assert data["snapshots"][0]["when"] == "now" and data["snapshots"][0]["pools_created"] == 0
    write_files(project, {"remote.py": "from dataflow import DataFlow\n\nremote = DataFlow('postgresql://app:Hunter2-s3cret@127.0.0.1:1/app')\n"})
    proc = cli("monitor", "remote.py", cwd=project)  # no workflow: the instance's metrics as they are
    assert proc.returncode == 0, proc.stderr
    assert "now, remote (postgresql://app:***@127.0.0.1:1/app): pools created 0" in proc.stdout
    assert "Hunter2-s3cret" not in proc.stdout
    assert cli("monitor", "counts.py", "--runs", "0", cwd=project).returncode == 2


def test_monitor_a_test_run(cli: Cli, tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "suite",
        {
            # The leak check (on by default) is off: the monitor reports the leaky test's pool itself.
            "pytest.ini": "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
            "dataflow_leak_check = false\n",
            "conftest.py": """
                import pytest

                pytest_plugins = ["dataflow.testing"]


                class Note:
                    id: int
                    text: str


                @pytest.fixture(scope="session")
                def dataflow_models():
                    return [Note]
            """,
            "test_notes.py": """
                import os

                from dataflow import AsyncLocalRuntime, DataFlow


                async def test_clean(dataflow_db):
                    workflow = dataflow_db.workflow().add_node("NoteCountNode", "count")
                    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


                async def test_leaky():
                    db = DataFlow(os.environ["DATABASE_URL"])
                    db.model(type("Other", (), {"__annotations__": {"id": int}}))
                    workflow = db.workflow().add_node("OtherCountNode", "count")
                    await AsyncLocalRuntime().execute_workflow_async(workflow.build())
            """,
        },
    )
    proc = cli("monitor", "pytest", "--", "-q", "-p", "no:randomly", "-k", "clean", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "closed by DataFlow's safety net: 0" in proc.stdout
    proc = cli("monitor", "pytest", "--", "-q", "-p", "no:randomly", cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dataflow monitor: pytest -q -p no:randomly (pytest exit status 0)" in proc.stdout
    assert "closed by DataFlow's safety net: 1 (loop shutdown 1)" in proc.stdout
    assert "  test_notes.py::test_leaky: 1 pool (" in proc.stdout
    data = json.loads(cli("monitor", "--json", "pytest", "--", "-q", "-p", "no:randomly", cwd=project).stdout)
    assert data["tests_leaking_pools"].keys() == {"test_notes.py::test_leaky"}
    assert data["pools_created"] == data["closed_by_owner"] + data["closed_by_safety_net"] + data["open_at_end"]
    proc = cli("monitor", "pytest", "--", "--no-such-pytest-option", cwd=project)
    assert proc.returncode == 2
