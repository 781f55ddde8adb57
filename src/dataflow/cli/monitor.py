"""``dataflow monitor``: pool and cleanup metrics of a running instance, or of a whole test run.

```console
$ dataflow monitor workflow.py --runs 3
$ dataflow monitor pytest -- -q tests/
```

With a workflow file it runs the workflow (``--runs`` times, on one ``LocalRuntime``) and prints
the pool metrics of every DataFlow instance the file defines after each run and after the runtime
closed; a file (or ``file.py:db``) that names DataFlow instances but no workflow gets their metrics
as they are. With ``pytest`` it runs pytest with the given arguments and reports every pool the
run created: who closed it (its owner, or DataFlow's safety net when nobody did), and the tests
whose pools the safety net had to close. URLs are shown without passwords.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .._dataflow import DataFlow
from .._errors import DataFlowError
from .._workflow import Workflow, WorkflowBuilder
from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, add_command, emit, plural
from ._monitor_plugin import REPORT_ENV
from ._workflow_file import import_file, pick, split_spec

__all__ = ["NAME", "register"]

#: The command's name on the command line.
NAME = "monitor"

_DESCRIPTION = """Pool and cleanup metrics: of the DataFlow instances of a workflow file while its workflow
runs (--runs N), or of a whole test run (dataflow monitor pytest [PYTEST ARGS]).

Exit status: 0 every pool was closed by its owner, 1 the run failed or DataFlow's safety net had to
close pools, 2 bad usage."""

_KEYS = (
    "pools_created",
    "pools_cleaned",
    "stale_pools_cleaned",
    "cleanup_failures",
    "active_pools",
    "connections_in_use",
)


def _line(label: str, metrics: dict[str, Any]) -> str:
    parts = ", ".join(f"{key.replace('_', ' ')} {metrics.get(key, 0)}" for key in _KEYS)
    return f"  {label}: {parts}"


def _monitor_file(args: argparse.Namespace) -> int:
    from .._runtime import LocalRuntime

    module = import_file(split_spec(args.target)[0])
    target, label = pick(module, args.target, (WorkflowBuilder, Workflow), (DataFlow,), what="workflow or DataFlow")
    instances = [(k, v) for k, v in vars(module).items() if isinstance(v, DataFlow)]
    if isinstance(target, DataFlow):
        instances = [(label.rpartition(":")[2], target)]
    lines = [f"dataflow monitor: {label}"]
    snapshots: list[dict[str, Any]] = []

    def snapshot(when: str) -> None:
        for name, db in instances:
            metrics = db.get_cleanup_metrics()
            snapshots.append({"when": when, "instance": name, **metrics})
            lines.append(_line(f"{when}, {name} ({metrics.get('url')})", metrics))

    status = EXIT_OK
    if isinstance(target, DataFlow):
        snapshot("now")
    else:
        workflow = target.build() if isinstance(target, WorkflowBuilder) else target
        runtime = LocalRuntime()
        try:
            for run in range(1, args.runs + 1):
                runtime.execute(workflow)
                snapshot(f"after run {run}")
        except DataFlowError as exc:
            lines.append(f"run {len(snapshots) + 1} failed:\n{exc}")
            status = EXIT_FINDINGS
        finally:
            runtime.close()
        snapshot("after the runtime closed")
    failures = sum(s.get("cleanup_failures", 0) for s in snapshots[-len(instances):]) if instances else 0
    if failures:
        status = EXIT_FINDINGS
    emit(args, "\n".join(lines), {"command": NAME, "target": label, "snapshots": snapshots})
    return status


def _summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    created = [e for e in events if e["kind"] == "created"]
    closed = [e for e in events if e["kind"] == "closed"]
    net: dict[str, int] = {}
    leaks: dict[str, list[str]] = {}
    for event in closed:
        if event["safety_net"]:
            net[event["closed_by"]] = net.get(event["closed_by"], 0) + 1
            leaks.setdefault(event["test"] or "(outside any test)", []).append(event["url"])
    return {
        "pools_created": len(created),
        "closed_by_owner": sum(1 for e in closed if not e["safety_net"]),
        "closed_by_safety_net": sum(net.values()),
        "safety_net": net,
        "open_at_end": max(0, len(created) - len(closed)),
        "tests_leaking_pools": leaks,
    }


def _monitor_pytest(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="dataflow-monitor-") as tmp:
        base = str(Path(tmp) / "report")
        env = {**os.environ, REPORT_ENV: base}
        cmd = [sys.executable, "-m", "pytest", "-p", "dataflow.cli._monitor_plugin", *args.pytest_args]
        proc = subprocess.run(cmd, env=env, stdout=sys.stderr if args.json else None)
        events: list[dict[str, Any]] = []
        for report in sorted(Path(tmp).glob("report.*.json")):
            events += json.loads(report.read_text(encoding="utf-8"))["events"]
    summary = _summary(events)
    shown = " ".join(["pytest", *args.pytest_args])
    how = ", ".join(f"{k} {v}" for k, v in sorted(summary["safety_net"].items()))
    lines = [
        f"dataflow monitor: {shown} (pytest exit status {proc.returncode})",
        f"pools created: {summary['pools_created']}",
        f"  closed by their owner: {summary['closed_by_owner']}",
        f"  closed by DataFlow's safety net: {summary['closed_by_safety_net']}" + (f" ({how})" if how else ""),
        f"  open at the end of the run: {summary['open_at_end']}",
    ]
    if summary["tests_leaking_pools"]:
        lines.append("tests whose pools the safety net closed (run them with --dataflow-leak-check for details):")
        for test, urls in summary["tests_leaking_pools"].items():
            lines.append(f"  {test}: {plural(len(urls), 'pool')} ({', '.join(sorted(set(urls)))})")
    emit(args, "\n".join(lines), {"command": NAME, "pytest_exit_status": proc.returncode, **summary})
    if proc.returncode == 4:
        return EXIT_USAGE
    return EXIT_FINDINGS if proc.returncode != 0 or summary["closed_by_safety_net"] else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.target == "pytest":
        return _monitor_pytest(args)
    if args.pytest_args:
        raise UsageError(f"unrecognized arguments: {' '.join(args.pytest_args)}")
    if args.runs < 1:
        raise UsageError("--runs must be 1 or more")
    return _monitor_file(args)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow monitor`` to the command line."""
    parser = add_command(
        commands, NAME, help="pool and cleanup metrics of a workflow file's instances or of a test run",
        description=_DESCRIPTION, run=_run,
    )
    parser.add_argument(
        "target", metavar="FILE[:ATTR] | pytest", help="a workflow file (or file.py:db), or 'pytest' for a test run"
    )
    parser.add_argument("--runs", type=int, default=1, help="run the workflow this many times (default 1)")
    parser.add_argument(
        "pytest_args", nargs="*", metavar="PYTEST_ARG",
        help="with 'pytest': its arguments; put them after -- when they start with a dash (-- -q tests/)",
    )
