"""The Inspector examples of seed 004 (lines 275, 707, 746, 754, 761, 768, 1503, 1593) run as written.

Each snippet is copied verbatim (the seed's arrows and tree characters are decoded from its
mojibake) and runs in a fresh interpreter, once per backend, after a prelude that declares the
models the seed assumes: ``User`` with a ``str`` primary key and ``Order`` with an ``int``
``user_id``. The printed results must be what the seed's comments show.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataflow._catalog import DOCS_BASE_URL, ERRORS_PAGE, docs_version

PRELUDE = '''
import os
from dataflow import DataFlow, WorkflowBuilder

db = DataFlow(os.environ["DATABASE_URL"])


@db.model
class User:
    id: str
    name: str


@db.model
class Order:
    id: int
    user_id: int
    total: float
'''

#: The seed's workflow, for the snippets that use an ``inspector`` without creating one; it also
#: has a node called "node", which the method cheat sheet (line 754) traces.
SESSION = '''
from dataflow.platform.inspector import Inspector

workflow = WorkflowBuilder()
workflow.add_node("UserReadNode", "read", {"id": "user-123"})
workflow.add_node("OrderListNode", "list", {"user_id": "user-123"})
workflow.add_connection("read", "id", "list", "user_id")
workflow.add_node("UserReadNode", "node", {"id": "user-123"})
inspector = Inspector(workflow)
'''

SEED_275 = '''
# After (kailash-dataflow): Inspector-based debugging
from dataflow.platform.inspector import Inspector

workflow = WorkflowBuilder()
workflow.add_node("UserReadNode", "read", {"id": "user-123"})
workflow.add_node("OrderListNode", "list", {"user_id": "user-123"})
workflow.add_connection("read", "id", "list", "user_id")

# Problem: Orders not loading, check workflow structure
inspector = Inspector(workflow)

# 1. List all connections (visual tree)
connections = inspector.connections()
print(connections)
# Output:
# Found 1 connection:
# read.id → list.user_id

# 2. Trace parameter back to source
trace = inspector.trace_parameter("list", "user_id")
print(trace.show())
# Output:
# Parameter Trace: list.user_id
# └─ read.id (string)

# 3. Validate workflow structure
validation = inspector.validate_connections()
if not validation["is_valid"]:
    for error in validation["errors"]:
        print(f"ERROR: {error}")
# Output:
# ERROR: Connection read.id → list.user_id has type mismatch
# - read.id outputs: str
# - list.user_id expects: int

# 4. Fix the issue immediately
workflow.add_node("OrderListNode", "list", {"filters": {"user_id": "user-123"}})

# Time spent: 5-10 minutes with Inspector (80-90% reduction)
'''

SEED_707 = '''
# Inspector debugging (5-10 minutes)
from dataflow.platform.inspector import Inspector

workflow = WorkflowBuilder()
workflow.add_node("UserReadNode", "read", {"id": "user-123"})
workflow.add_node("OrderListNode", "list", {"user_id": "user-123"})
workflow.add_connection("read", "id", "list", "user_id")

# Problem: Orders not loading

inspector = Inspector(workflow)

# Step 1: List all connections (visual tree)
connections = inspector.connections()
print(connections)
# Found 1 connection: read.id → list.user_id

# Step 2: Trace parameter back to source
trace = inspector.trace_parameter("list", "user_id")
print(trace.show())
# Parameter Trace: list.user_id
# └─ read.id (string)

# Step 3: Validate workflow structure
validation = inspector.validate_connections()
if not validation["is_valid"]:
    for error in validation["errors"]:
        print(f"ERROR: {error}")
# ERROR: Connection read.id → list.user_id has type mismatch

# Step 4: Fix immediately (1-2 minutes)
workflow.add_node("OrderListNode", "list", {"filters": {"user_id": "user-123"}})
'''

SEED_746 = '''
inspector.connections()                    # List all connections
inspector.broken_connections()             # Find missing source/target
inspector.trace_connection_chain()         # Trace parameter flow
inspector.find_connection_cycles()         # Detect circular dependencies
'''

SEED_754 = '''
inspector.trace_parameter("node", "param")  # Trace to source
inspector.parameter_lineage("node")         # Full parameter tree
inspector.parameter_dependencies()          # Show all dependencies
'''

SEED_761 = '''
inspector.validate_connections()           # Pre-execution validation
inspector.validate_workflow_structure()    # Check workflow integrity
inspector.validate_node_signatures()       # Verify parameter compatibility
'''

SEED_768 = '''
inspector.show()                           # ASCII workflow diagram
inspector.show_execution_order()           # Topological sort visualization
inspector.show_parameter_flow()            # Parameter flow diagram
'''

SEED_1503 = '''
# Add Inspector for debugging
from dataflow.platform.inspector import Inspector

inspector = Inspector(workflow)
validation = inspector.validate_connections()
if not validation["is_valid"]:
    print(f"Errors: {validation['errors']}")
'''

SEED_1593 = '''
from dataflow.platform.inspector import Inspector

inspector = Inspector(workflow)
validation = inspector.validate_connections()
'''

TRACE = "Parameter Trace: list.user_id\n└─ read.id (string)\n"
MISMATCH = (
    "ERROR: Connection read.id → list.user_id has type mismatch\n"
    "- read.id outputs: str\n"
    "- list.user_id expects: int\n"
    f"- DF-103: {DOCS_BASE_URL}{docs_version()}/{ERRORS_PAGE}#df-103\n"
)
NOT_TAKEN = (
    "ERROR: Connection read.id → list.user_id: OrderListNode does not take parameter 'user_id'. "
    "It takes: filter, order_by, limit, offset, filters.\n"
    "- did you mean 'filter.user_id'? user_id is a field of Order: pass it as {'filter': {'user_id': ...}}\n"
    f"- DF-105: {DOCS_BASE_URL}{docs_version()}/{ERRORS_PAGE}#df-105\n"
)


def run_snippet(tmp_path: Path, database_url: str, *parts: str) -> str:
    script = tmp_path / "seed.py"
    script.write_text("\n".join(textwrap.dedent(p) for p in parts), encoding="utf-8")
    env = {"DATABASE_URL": database_url, "PATH": str(Path(sys.executable).parent), "DATAFLOW_DOCS_URL": ""}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_seed_275_session_prints_what_the_seed_shows(tmp_path: Path, database_url: str) -> None:
    out = run_snippet(tmp_path, database_url, PRELUDE, SEED_275)
    assert out == "Found 1 connection: read.id → list.user_id\n" + TRACE + MISMATCH + NOT_TAKEN


def test_seed_707_session_prints_what_the_seed_shows(tmp_path: Path, database_url: str) -> None:
    out = run_snippet(tmp_path, database_url, PRELUDE, SEED_707)
    assert out.startswith("Found 1 connection: read.id → list.user_id\n" + TRACE)
    assert out.splitlines()[3] == "ERROR: Connection read.id → list.user_id has type mismatch"


@pytest.mark.parametrize(
    "snippet", [SEED_746, SEED_754, SEED_761, SEED_768, SEED_1593], ids=["746", "754", "761", "768", "1593"]
)
def test_seed_method_lists_run_as_written(tmp_path: Path, database_url: str, snippet: str) -> None:
    assert run_snippet(tmp_path, database_url, PRELUDE, SESSION, snippet) == ""


def test_seed_1503_prints_the_errors(tmp_path: Path, database_url: str) -> None:
    out = run_snippet(tmp_path, database_url, PRELUDE, SESSION, SEED_1503)
    assert out == (
        "Errors: [<error DF-103: Connection read.id → list.user_id has type mismatch>, "
        "<error DF-105: Connection read.id → list.user_id: OrderListNode does not take parameter 'user_id'. "
        "It takes: filter, order_by, limit, offset, filters.>]\n"
    )
