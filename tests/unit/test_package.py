"""Package-level contract: light import, public exports, error catalog, test-mode resolution."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from _subprocess import child_env

import dataflow
from dataflow import CATALOG, DataFlow, DataFlowError

ENV = child_env()


def run_python(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**ENV, **env}, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_dataflow_does_not_import_drivers() -> None:
    out = run_python(
        "import sys, dataflow\n"
        "print(sorted(m for m in ('asyncpg', 'aiosqlite', 'sqlite3') if m in sys.modules))"
    )
    assert out == "[]"


def test_declaring_models_and_building_workflows_does_not_import_drivers() -> None:
    out = run_python(
        "import sys\n"
        "from dataflow import DataFlow, WorkflowBuilder\n"
        "for url in ('sqlite:///:memory:', 'postgresql://u:p@h/d'):\n"
        "    db = DataFlow(url)\n"
        "    @db.model\n"
        "    class User:\n"
        "        id: int\n"
        "        name: str\n"
        "    WorkflowBuilder().add_node('UserListNode', 'l', {'filter': {'name': 'x'}}).build()\n"
        "print(sorted(m for m in ('asyncpg', 'aiosqlite') if m in sys.modules))"
    )
    assert out == "[]"


def test_public_exports() -> None:
    for name in dataflow.__all__:
        assert hasattr(dataflow, name), name
    assert len(set(dataflow.__all__)) == len(dataflow.__all__)
    for name in (
        "DataFlow", "WorkflowBuilder", "Workflow", "LocalRuntime", "AsyncLocalRuntime", "Field", "Transaction",
        "DataFlowError", "RecordNotFoundError", "UniqueViolationError", "InvalidConflictTargetError",
        "TransactionError", "ConnectionPathError", "InvalidURLError", "InvalidModelError", "__version__",
    ):  # fmt: skip
        assert name in dataflow.__all__, name
    assert isinstance(dataflow.__version__, str) and dataflow.__version__


def test_every_exported_error_has_a_catalogued_code() -> None:
    errors = [
        obj
        for name in dataflow.__all__
        if isinstance(obj := getattr(dataflow, name), type) and issubclass(obj, DataFlowError)
    ]
    coded = [e for e in errors if e.__dict__.get("code")]
    assert len(coded) >= 30
    for cls in coded:
        info = CATALOG[cls.code]
        assert info.exception == cls.__name__
        err = cls("something happened", context={"model": "User"})
        text = str(err)
        assert text.startswith(f"{cls.code}: {info.title}")
        assert "something happened" in text
        assert err.url.endswith("#" + cls.code.lower())
        assert err.url in text


@pytest.fixture
def reset_test_mode() -> Iterator[None]:
    DataFlow.reset_test_mode()
    yield
    DataFlow.reset_test_mode()


@pytest.mark.usefixtures("reset_test_mode")
def test_test_mode_resolution_order() -> None:
    assert DataFlow("sqlite:///:memory:").test_mode is True  # auto-detected: running under pytest
    assert DataFlow("sqlite:///:memory:", test_mode=False).test_mode is False
    DataFlow.disable_test_mode()
    assert DataFlow("sqlite:///:memory:").test_mode is False
    assert DataFlow("sqlite:///:memory:", test_mode=True).test_mode is True
    DataFlow.enable_test_mode()
    assert DataFlow("sqlite:///:memory:").test_mode is True
    assert DataFlow("sqlite:///:memory:", test_mode=False).test_mode is False
    DataFlow.reset_test_mode()
    assert DataFlow("sqlite:///:memory:").test_mode is True


def test_test_mode_outside_pytest() -> None:
    code = (
        "from dataflow import DataFlow\n"
        "a = DataFlow('sqlite:///:memory:').test_mode\n"
        "b = DataFlow('sqlite:///:memory:', test_mode=True).test_mode\n"
        "DataFlow.enable_test_mode()\n"
        "c = DataFlow('sqlite:///:memory:').test_mode\n"
        "d = DataFlow('sqlite:///:memory:', test_mode=False).test_mode\n"
        "print(a, b, c, d)"
    )
    assert run_python(code) == "False True True False"
    assert run_python(code, PYTEST_CURRENT_TEST="t.py::t (call)") == "True True True False"


def test_repr_and_properties() -> None:
    db = DataFlow("sqlite:///:memory:", test_mode=True)
    assert repr(db) == "DataFlow('sqlite:///:memory:', test_mode=True)"
    assert db.dialect == "sqlite"
    assert db.models == {} and db.nodes == {}
