"""FR-1: test mode — resolution (AC-1..AC-3), the log line (AC-4), and what it changes.

Test mode is not cosmetic: pools are sized for tests and stale pools (left by a loop that was
closed without shutting them down) are closed before a new pool is handed out, with a
``StalePoolWarning`` (DF-507). With ``test_mode=False`` nothing is swept proactively.
"""

from __future__ import annotations

import asyncio
import logging
import warnings

import pytest
from ts_helpers import clean_env, database_name, make_db, pg_backends, run_script, touch

from dataflow import DataFlow, LoopReuseWarning, StalePoolWarning

ENABLED = "test mode enabled"


def _mode_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "dataflow" and "test mode" in r.getMessage().lower()]


# --- resolution ------------------------------------------------------------------------------


def test_ac1_auto_detects_pytest(database_url: str) -> None:
    db = DataFlow(database_url)
    assert db.test_mode is True
    assert db.get_cleanup_metrics()["test_mode"] is True


@pytest.mark.parametrize("explicit", [True, False])
def test_ac2_explicit_argument_wins(database_url: str, explicit: bool) -> None:
    assert DataFlow(database_url, test_mode=explicit).test_mode is explicit
    DataFlow.disable_test_mode()
    assert DataFlow(database_url, test_mode=explicit).test_mode is explicit
    DataFlow.enable_test_mode()
    assert DataFlow(database_url, test_mode=explicit).test_mode is explicit


def test_ac3_process_default_for_new_instances(database_url: str) -> None:
    before = DataFlow(database_url)
    DataFlow.disable_test_mode()
    assert DataFlow(database_url).test_mode is False
    assert DataFlow("sqlite:///:memory:").test_mode is False
    assert DataFlow(database_url, test_mode=True).test_mode is True  # explicit still wins
    assert before.test_mode is True  # existing instances keep their mode
    DataFlow.enable_test_mode()
    db1, db2 = DataFlow(database_url), DataFlow("sqlite:///:memory:")
    assert db1.test_mode is True and db2.test_mode is True
    assert DataFlow(database_url, test_mode=False).test_mode is False
    DataFlow.reset_test_mode()
    assert DataFlow(database_url).test_mode is True  # back to auto-detection


def test_auto_detect_without_pytest_is_off(tmp_path) -> None:
    code = """
        import sys
        from dataflow import DataFlow
        db = DataFlow("sqlite:///:memory:")
        assert "pytest" not in sys.modules and "_pytest" not in sys.modules, "pytest got imported"
        print("TEST_MODE", db.test_mode, db.get_cleanup_metrics()["test_mode"])
    """
    proc = run_script(code)
    assert proc.returncode == 0, proc.stderr
    assert "TEST_MODE False False" in proc.stdout
    assert ENABLED not in proc.stderr.lower()
    # PYTEST_CURRENT_TEST alone (e.g. a subprocess started by a test) is detected too.
    proc = run_script(code, env=clean_env(PYTEST_CURRENT_TEST="t.py::test_x (call)"))
    assert proc.returncode == 0, proc.stderr
    assert "TEST_MODE True True" in proc.stdout
    # The process default works without pytest as well.
    proc = run_script(code.replace('db = DataFlow(', 'DataFlow.enable_test_mode(); db = DataFlow('))
    assert "TEST_MODE True True" in proc.stdout, proc.stderr


# --- AC-4: one INFO line saying why ---------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "explicit", "reason"),
    [
        (None, None, "auto-detected pytest"),
        (None, True, "test_mode=true was passed"),
        ("enable", None, "enable_test_mode() was called"),
    ],
    ids=["auto", "explicit", "process-default"],
)
def test_ac4_one_info_line_with_the_reason(
    database_url: str, caplog: pytest.LogCaptureFixture, setup: str | None, explicit: bool | None, reason: str
) -> None:
    if setup == "enable":
        DataFlow.enable_test_mode()
    caplog.set_level(logging.DEBUG, logger="dataflow")
    db = DataFlow(database_url, test_mode=explicit)
    lines = _mode_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    (line,) = lines
    assert line.levelno == logging.INFO
    message = line.getMessage()
    assert ENABLED in message.lower() and reason in message.lower(), message
    assert db.url in message  # which database; the password is redacted
    assert "***" in message or "@" not in db.url or ":" not in db.url.split("@")[0].split("//")[1]


def test_ac4_production_mode_logs_no_test_mode_line(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dataflow")
    DataFlow(database_url, test_mode=False)
    DataFlow.disable_test_mode()
    DataFlow(database_url)
    assert not [r for r in _mode_lines(caplog) if ENABLED in r.getMessage().lower()]


# --- behaviour: the stale-pool sweep ---------------------------------------------------------


def _leave_stale_pool(db: DataFlow) -> None:
    """Use ``db`` on a loop that is closed without shutdown_asyncgens(): its pool goes stale."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(touch(db))
    finally:
        loop.close()


@pytest.mark.dataflow_leaks_expected(reason="creates a stale pool on purpose")
def test_test_mode_sweeps_stale_pools_before_a_new_pool(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    db = make_db(database_url, test_mode=True)
    _leave_stale_pool(db)
    metrics = db.get_cleanup_metrics()
    assert metrics["stale_pools"] == 1 and metrics["stale_pools_cleaned"] == 0
    caplog.set_level(logging.INFO, logger="dataflow")
    with pytest.warns(StalePoolWarning, match="DF-507") as record:
        with pytest.warns(LoopReuseWarning, match="DF-703"):  # the instance's second loop, unclosed
            assert asyncio.run(touch(db)) == 0
    assert "stale" in str(record[0].message).lower()
    metrics = db.get_cleanup_metrics()
    assert metrics["stale_pools_cleaned"] == 1
    assert metrics["stale_pools"] == 0
    # the new loop's pool was closed by asyncio.run's shutdown hook
    assert metrics["active_pools"] == 0
    assert any("stale pool" in r.getMessage() for r in caplog.records if r.name == "dataflow")
    assert asyncio.run(db.cleanup_stale_pools()) == 0
    asyncio.run(db.close())


@pytest.mark.dataflow_leaks_expected(reason="creates a stale pool on purpose")
def test_production_mode_does_not_sweep_but_cleanup_works_on_demand(database_url: str) -> None:
    db = make_db(database_url, test_mode=False)
    _leave_stale_pool(db)

    async def use_then_sweep() -> tuple[int, dict, int]:
        count = await touch(db)
        before = db.get_cleanup_metrics()
        return count, before, await db.cleanup_stale_pools()

    with warnings.catch_warnings():
        warnings.simplefilter("error", StalePoolWarning)  # no proactive sweep => no warning
        count, before, cleaned = asyncio.run(use_then_sweep())
    assert count == 0
    assert before["stale_pools_cleaned"] == 0
    assert before["stale_pools"] == 1  # still there: nothing swept it
    assert cleaned == 1
    metrics = db.get_cleanup_metrics()
    assert metrics["stale_pools_cleaned"] == 1 and metrics["stale_pools"] == 0
    asyncio.run(db.close())


@pytest.mark.postgresql_only(reason="SQLite has one connection per loop; pool sizing is a PostgreSQL pool setting")
async def test_pool_size_follows_the_mode(database_url: str, postgres_server) -> None:
    """Test mode caps a pool at 4 connections, production mode allows 10 (explicit sizes win)."""
    name = database_name(database_url)

    async def peak(db: DataFlow) -> int:
        await db.create_tables()

        async def hold() -> None:  # a transaction holds one connection while it sleeps
            async with db.transaction():
                await asyncio.sleep(0.6)

        tasks = [asyncio.create_task(hold()) for _ in range(12)]
        await asyncio.sleep(0.3)
        seen = await asyncio.to_thread(pg_backends, postgres_server.admin_url, name)
        await asyncio.gather(*tasks)
        await db.close()
        return seen

    assert await peak(make_db(database_url, test_mode=True)) == 4
    assert await peak(make_db(database_url, test_mode=False)) == 10
    assert await peak(make_db(database_url, test_mode=True, pool_max_size=6)) == 6
