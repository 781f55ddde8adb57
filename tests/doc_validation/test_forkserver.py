"""The doc harness's fork server starts a ``python -m`` command the way a fresh interpreter would:
its environment, working directory, ``sys.argv`` and ``sys.path[0]``, captured output, exit status,
a normal interpreter exit, and a kill on timeout; a failed server falls back to ``subprocess``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _subprocess import child_env
from doc_validation.docval import forkserver
from doc_validation.docval.runners._base import run_command

PROBE = '''
import atexit, json, os, sys, tempfile, threading, time

def report():
    with open("report.json", "w") as f:
        json.dump({"argv": sys.argv, "path0": sys.path[0], "cwd": os.getcwd(), "env": dict(os.environ),
                   "main": __name__, "stdin": sys.stdin.read(),
                   "pid": os.getpid(), "tmp": tempfile.gettempdir()}, f)

def late():
    time.sleep(0.2)  # a non-daemon thread: the interpreter waits for it at exit
    with open("thread.txt", "w") as f:
        f.write("joined")

atexit.register(lambda: open("atexit.txt", "w").write("ran"))
report()
threading.Thread(target=late).start()
print("to stdout")
print("to stderr", file=sys.stderr)
if sys.argv[1:] == ["fail"]:
    raise RuntimeError("the probe failed")
if sys.argv[1:] == ["hang"]:
    time.sleep(60)
sys.exit(int(sys.argv[1]) if sys.argv[1:] else 0)
'''


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    (tmp_path / "probe_module.py").write_text(PROBE, encoding="utf-8")
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    settings = {"PYTHONPATH": str(Path(forkserver.__file__).parent),
                "PATH": os.environ.get("PATH", ""), **extra}
    return child_env(**settings)


def test_a_child_sees_what_python_dash_m_would(probe: Path) -> None:
    (probe / "tmp").mkdir()
    env = _env(DOCVAL_PROBE="yes", TMPDIR=str(probe / "tmp"))
    proc = forkserver.run(["-m", "probe_module", "7"], probe, env, timeout=60)
    assert proc.returncode == 7
    assert proc.stdout == "to stdout\n" and proc.stderr == "to stderr\n"
    seen = json.loads((probe / "report.json").read_text())
    assert seen["env"] == env  # exactly the command's environment, nothing of the server's
    assert seen["cwd"] == seen["path0"] == str(probe)
    assert seen["argv"] == [str(probe / "probe_module.py"), "7"] and seen["main"] == "__main__"
    assert seen["stdin"] == "" and seen["tmp"] == str(probe / "tmp")
    # a normal interpreter exit: non-daemon threads joined, atexit handlers run
    assert (probe / "thread.txt").read_text() == "joined"
    assert (probe / "atexit.txt").read_text() == "ran"


def test_an_uncaught_exception_exits_1_with_its_traceback(probe: Path) -> None:
    proc = forkserver.run(["-m", "probe_module", "fail"], probe, _env(), timeout=60)
    assert proc.returncode == 1
    assert "RuntimeError: the probe failed" in proc.stderr and 'probe_module.py", line' in proc.stderr


def test_each_command_is_a_process_of_its_own(probe: Path) -> None:
    pids = set()
    for _ in range(3):
        forkserver.run(["-m", "probe_module"], probe, _env(), timeout=60)
        pids.add(json.loads((probe / "report.json").read_text())["pid"])
    servers = {server.proc.pid for server in forkserver._servers.values()}
    assert len(pids) == 3 and not pids & {os.getpid(), *servers}


def test_a_timeout_kills_the_child(probe: Path) -> None:
    proc = forkserver.run(["-m", "probe_module", "hang"], probe, _env(), timeout=1)
    assert proc.returncode == -9 and "timed out after 1s" in proc.stderr
    assert forkserver.run(["-m", "probe_module", "0"], probe, _env(), timeout=60).returncode == 0  # still serves


def test_a_different_interpreter_setting_gets_a_server_of_its_own(probe: Path) -> None:
    forkserver.run(["-m", "probe_module"], probe, _env(), timeout=60)
    forkserver.run(["-m", "probe_module"], probe, _env(PYTHONHASHSEED="123"), timeout=60)
    seeds = {key[forkserver.STARTUP_ENV.index("PYTHONHASHSEED")] for key in forkserver._servers}
    assert {"\0", "123"} <= seeds


def test_a_dead_server_falls_back_to_a_plain_subprocess(probe: Path) -> None:
    env = _env()
    forkserver.run(["-m", "probe_module"], probe, env, timeout=60)
    for server in forkserver._servers.values():
        server.proc.kill()
        server.proc.wait()
    proc = run_command([sys.executable, "-m", "probe_module", "5"], probe, env)
    assert proc.returncode == 5 and proc.stdout == "to stdout\n"
    assert forkserver.run(["-m", "probe_module", "0"], probe, env, timeout=60).returncode == 0  # a new server


FAILING_TEST = "def test_it():\n    assert [1, 2] == [1, 3]\n"


def _fails_with_a_rewritten_assert(proc: subprocess.CompletedProcess[str]) -> None:
    """The child's pytest ran ``FAILING_TEST`` with its assert rewritten and warned of no module
    imported too early to rewrite."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "At index 1 diff: 2 != 3" in output
    assert "PytestAssertRewriteWarning" not in output


def test_pytest_in_a_child_rewrites_its_plugins_and_tests(tmp_path: Path) -> None:
    # The server imports no plugin module, so the child's pytest can rewrite their asserts (and
    # says nothing about modules imported too early); a test's assert is rewritten as usual.
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["dataflow.testing"]\n', encoding="utf-8")
    (tmp_path / "test_it.py").write_text(FAILING_TEST, encoding="utf-8")
    env = _env(PYTHONPATH=os.pathsep.join([str(Path(forkserver.__file__).parents[3] / "src"),
                                           str(Path(forkserver.__file__).parent)]))
    proc = forkserver.run(["-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "test_it.py"],
                          tmp_path, env, timeout=120)
    _fails_with_a_rewritten_assert(proc)


def test_commands_without_plugin_autoload_get_a_server_that_preloads_black(tmp_path: Path) -> None:
    # The python blocks' runs: pytest loads only the plugins named with -p, so black (most of what
    # pytest-examples costs to import) comes from the server, and pytest still rewrites the plugin.
    (tmp_path / "which.py").write_text("import sys\nprint(sorted({'black', 'pytest_examples'} & set(sys.modules)))\n",
                                       encoding="utf-8")
    (tmp_path / "test_it.py").write_text(FAILING_TEST, encoding="utf-8")
    env = _env(**{forkserver.AUTOLOAD_OFF: "1"})
    assert forkserver.run(["-m", "which"], tmp_path, env, timeout=60).stdout == "['black']\n"
    assert forkserver.run(["-m", "which"], tmp_path, _env(), timeout=60).stdout == "[]\n"
    proc = forkserver.run(["-m", "pytest", "-p", "no:cacheprovider", "-p", "pytest_examples", "test_it.py"],
                          tmp_path, env, timeout=120)
    _fails_with_a_rewritten_assert(proc)
