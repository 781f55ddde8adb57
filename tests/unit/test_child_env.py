"""The one environment helper for child processes (tests/_subprocess.py)."""

from __future__ import annotations

from _subprocess import child_env

OUTER = {
    "PATH": "/usr/bin",
    "CI": "true",
    "DATAFLOW_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5999/postgres",
    "PYTEST_XDIST_WORKER": "gw0",
    "PYTEST_CURRENT_TEST": "test_x.py::test_y (call)",
    "PYTEST_ADDOPTS": "-x",
    "DOC_VALIDATION_UPDATE": "1",
    "COV_CORE_SOURCE": "src",
    "DATABASE_URL": "sqlite:///outer.db",
}


def test_outer_run_variables_do_not_reach_the_child() -> None:
    assert child_env(OUTER) == {
        "PATH": "/usr/bin",
        "CI": "true",
        "DATAFLOW_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5999/postgres",
    }


def test_overrides_set_and_none_removes() -> None:
    env = child_env(OUTER, DATABASE_URL="sqlite:///inner.db", CI=None)
    assert env["DATABASE_URL"] == "sqlite:///inner.db"
    assert "CI" not in env
