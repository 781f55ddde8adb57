"""The leak check (DF-701): a module-level DataFlow that is never cleaned up, and a leaked asyncio
task, are reported naming the test and where the pool was created; the same suite written with
``dataflow_db`` passes with the check on."""

from __future__ import annotations

import re

import pytest
from ts_helpers import INNER_INI

LEAKY = """
import asyncio
import os
from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder


class Item:
    id: int
    name: str


db = DataFlow(os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(os.getcwd(), "leaky.db"))
db.model(Item)


async def count():
    wf = WorkflowBuilder()
    wf.add_node(db.nodes["ItemCountNode"], "n", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(wf.build())
    return results["n"]["count"]


async def test_leaks_a_pool():
    assert await count() == 0   # LEAK-SITE


async def test_leaks_a_task():
    asyncio.get_running_loop().create_task(asyncio.sleep(30), name="forgotten-sleeper")


def test_clean():
    pass
"""

FIXED = """
import asyncio
import pytest
from dataflow import AsyncLocalRuntime, WorkflowBuilder


class Item:
    id: int
    name: str


@pytest.fixture(scope="session")
def dataflow_models():
    return [Item]


async def count(db):
    wf = WorkflowBuilder()
    wf.add_node(db.nodes["ItemCountNode"], "n", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(wf.build())
    return results["n"]["count"]


async def test_uses_the_fixture(dataflow_db):
    assert await count(dataflow_db) == 0


async def test_awaits_its_task(dataflow_db):
    task = asyncio.get_running_loop().create_task(asyncio.sleep(0.01))
    await task


def test_clean():
    pass
"""


@pytest.mark.parametrize("enable", ["default", "option", "ini"])
def test_leaks_are_reported_with_df701(inner, enable: str) -> None:
    inner.pytester.makepyfile(test_leaky=LEAKY)
    args = ["-p", "no:randomly"]
    if enable == "option":  # the option wins over an ini that turns the check off
        inner.pytester.makeini(INNER_INI + "dataflow_leak_check = false\n")
        args.append("--dataflow-leak-check")
    elif enable == "ini":
        inner.pytester.makeini(INNER_INI + "dataflow_leak_check = true\n")
    result = inner.run(*args)
    out = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 3 and outcomes.get("errors") == 2, out[-4000:]
    assert "DF-701" in out and "ResourceLeakError" in out
    # the pool leak names its test and the line that created the pool
    assert re.search(r"ERROR at teardown of test_leaks_a_pool", out), out[-4000:]
    assert "Test test_leaky.py::test_leaks_a_pool left resources open" in out
    leak_line = next(i for i, line in enumerate(LEAKY.lstrip("\n").splitlines(), 1) if "LEAK-SITE" in line)
    assert f"test_leaky.py\", line {leak_line}" in out or f"test_leaky.py:{leak_line}" in out, out[-4000:]
    # the task leak names its test and the task
    assert "Test test_leaky.py::test_leaks_a_task left resources open" in out
    assert "forgotten-sleeper" in out and "still pending" in out
    assert "test_clean left" not in out


def test_turned_off_in_the_ini_nothing_is_checked(inner) -> None:
    inner.pytester.makepyfile(test_leaky=LEAKY)
    inner.pytester.makeini(INNER_INI + "dataflow_leak_check = false\n")
    result = inner.run("-p", "no:randomly")
    result.assert_outcomes(passed=3)
    assert "DF-701" not in result.stdout.str()


def test_the_same_suite_with_dataflow_db_passes_the_leak_check(inner) -> None:
    inner.pytester.makepyfile(test_fixed=FIXED)
    result = inner.run("-p", "no:randomly")  # the check is on by default
    result.assert_outcomes(passed=3)
    assert "DF-701" not in result.stdout.str() and "DF-703" not in result.stdout.str()
