"""The seeds' examples that issue 12 covers, copied as a new user would: each snippet runs as written
after a prelude that declares the models it uses and sets the database URL, on both backends.

(Seed 004's ``ErrorEnhancer(config=config)`` line uses a name its snippet never imports; the prelude
imports it, as a user pasting the snippet must.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PRELUDE = '''
import asyncio, logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stdout)
from dataflow import DataFlow, LocalRuntime, WorkflowBuilder, ErrorEnhancer
database_url = sys.argv[1]
db = DataFlow(database_url)

@db.model
class Product:
    id: int
    name: str
    price: float = 0.0
    tags: list | None = None
    created_at: str = "2024-01-02"

@db.model
class User:
    id: str
    name: str
    email: str = ""

runtime = LocalRuntime()
workflow = WorkflowBuilder()
'''

SNIPPETS = {
    "001-bulk-and-filters": '''
workflow.add_node("ProductBulkCreateNode", "bulk_create", {
    "data": [{"name": "guide", "price": 10.0, "tags": ["tutorial"]}, {"name": "mug", "price": 2000.0}]
})

workflow.add_node("ProductBulkUpdateNode", "bulk_update", {
    "filter": {"name": "mug"},
    "updates": {"price": 1500.0}
})

workflow.add_node("ProductBulkDeleteNode", "bulk_delete", {
    "filter": {"name": "nothing"}
})

workflow.add_node("ProductBulkUpsertNode", "bulk_upsert", {
    "data": [{"id": 1, "name": "guide v2", "price": 12.0}],
    "on_conflict": "update"
})
results, _ = runtime.execute(workflow.build())
workflow = WorkflowBuilder()
workflow.add_node("ProductListNode", "search", {
    "filter": {
        "price": {"$lt": 1000},
        "tags": {"$contains": ["tutorial"]},
        "created_at": {"$gte": "2024-01-01"}
    }
})
results, _ = runtime.execute(workflow.build())
print([p["name"] for p in results["search"]["records"]])
''',
    "004-354-schema-cache": '''
workflow.add_node("UserCreateNode", "create1", {"id": "user-1", "name": "Alice"})
runtime = LocalRuntime()
results, _ = runtime.execute(workflow.build())
workflow2 = WorkflowBuilder()
workflow2.add_node("UserCreateNode", "create2", {"id": "user-2", "name": "Bob"})
results2, _ = runtime.execute(workflow2.build())
workflow3 = WorkflowBuilder()
workflow3.add_node("UserCreateNode", "create3", {"id": "user-3", "name": "Carol"})
results3, _ = runtime.execute(workflow3.build())
metrics = db._schema_cache.get_metrics()
print(f"Hit rate: {metrics['hit_rate']:.2%}")
print(f"Hits: {metrics['hits']}")
print(f"Misses: {metrics['misses']}")
print(f"Cached tables: {metrics['cached_tables']}")
db._schema_cache.clear()
db._schema_cache.clear_table("User", database_url)
is_cached = db._schema_cache.is_table_ensured("User", database_url)
print(is_cached)
''',
    "004-398-switch": '''
workflow.add_node("UserListNode", "check", {
    "filters": {"email": "alice@example.com"},
    "limit": 1
})
workflow.add_node("SwitchNode", "exists", {
    "condition": "len(check) > 0"
})
workflow.add_connection("check", "results", "exists", "input")
workflow.add_node("UserCreateNode", "create", {
    "id": "user-123",
    "email": "alice@example.com",
    "name": "Alice"
})
workflow.add_node("UserUpdateNode", "update", {
    "filter": {"email": "alice@example.com"},
    "fields": {"name": "Alice Updated"}
})
workflow.add_connection("exists", "true_output", "update", "trigger")
workflow.add_connection("exists", "false_output", "create", "trigger")
results, _ = runtime.execute(workflow.build())
print(results["create"]["name"], results["update"]["skipped"])
''',
    "004-626-modes": '''
from dataflow.core.config import ErrorEnhancerConfig, PerformanceMode

config = ErrorEnhancerConfig(mode=PerformanceMode.FULL)
config = ErrorEnhancerConfig(mode=PerformanceMode.MINIMAL, cache_size=200)
config = ErrorEnhancerConfig(mode=PerformanceMode.DISABLED)
enhancer = ErrorEnhancer(config=config)
print(enhancer.mode)
''',
    "004-874-cache-options": '''
db = DataFlow(database_url)
db = DataFlow(
    database_url,
    schema_cache_enabled=True,
    schema_cache_ttl=300,
    schema_cache_max_size=10000,
    schema_cache_validation=False,
)
db = DataFlow(database_url, schema_cache_enabled=False)
print(db.schema_cache.get_metrics()["enabled"])
''',
    "000-logs": '''
db = DataFlow(database_url, test_mode=True)
assert db._test_mode == True
DataFlow.enable_test_mode()
db1 = DataFlow(database_url)
assert db1._test_mode == True
metrics = db.get_cleanup_metrics()
assert metrics["pools_cleaned"] >= 0
assert metrics["cleanup_failures"] == 0
db._adapter = None
asyncio.run(db.cleanup_all_pools())
print("ok")
''',
}

EXPECTED = {
    "001-bulk-and-filters": "['guide v2']",
    "004-354-schema-cache": "Hit rate: 66.67%\nHits: 2\nMisses: 1\nCached tables: 1\nFalse",
    "004-398-switch": "Alice True",
    "004-626-modes": "disabled",
    "004-874-cache-options": "False",
    "000-logs": "ok",
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_seed_snippet_runs_as_written(name: str, database_url: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.py"
    script.write_text(textwrap.dedent(PRELUDE) + textwrap.dedent(SNIPPETS[name]))
    proc = subprocess.run([sys.executable, str(script), database_url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith(("INFO:", "DEBUG:")))
    assert printed == EXPECTED[name], proc.stdout + proc.stderr
    if name == "000-logs":
        assert "INFO: DataFlow: Test mode enabled (test_mode=True was passed to DataFlow())" in proc.stdout
