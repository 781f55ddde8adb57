"""Run ``python -m <module> <args>`` children without paying for the interpreter start and imports
each time: a server per test process imports pytest, psycopg and dataflow once and forks a child
per command.

Each doc block runs in a process of its own, as before; only the start differs. The child is a fork
of an interpreter that has imported modules and done nothing else (no thread, no event loop, no
connection), so it behaves like ``python -m``: the command's working directory, environment,
``sys.argv`` and ``sys.path[0]``, its stdout and stderr captured, stdin empty, and a normal
interpreter exit (non-daemon threads are joined and ``atexit`` runs, so a block that would hang a
reader's process at exit hangs here too, until the timeout kills it).

What an interpreter fixes at start (``PYTHONPATH``, ``PYTHONHASHSEED``, ``PYTHONDONTWRITEBYTECODE``,
the executable) is the server's: a command whose environment differs there gets a server of its own.
``DOCVAL_FORK=0`` runs every command with :func:`subprocess.run` instead (see
docs/contributing/doc-blocks.md); a server that fails is replaced by that too, for the command at hand.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

#: Environment variables the interpreter reads at start: a server serves one value of each.
STARTUP_ENV = ("PYTHONPATH", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "PYTHONUTF8")
#: What the server imports before it forks: what nearly every doc block's process imports anyway.
#: Never a pytest plugin or anything that imports one: pytest rewrites the asserts of plugin modules
#: as it imports them, and one imported already is left as it is (PytestAssertRewriteWarning). So
#: pytest-examples, black (it imports platformdirs, a plugin's package) and dataflow.testing are not
#: here; the server checks that nothing it imported is a plugin's (see ``_plugin_modules``).
PRELOAD = ("pytest", "psycopg", "dataflow")
#: Set in a command's environment (the python blocks' runs), pytest loads no plugin by entry point and
#: rewrites only the modules it is given with ``-p``: a server for such commands preloads these too
#: (black's compiled modules are most of the cost of importing pytest-examples) and checks only that
#: it imported no module an entry point names.
AUTOLOAD_OFF = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
PRELOAD_AUTOLOAD_OFF = ("black",)


def enabled() -> bool:
    """Whether commands go through a fork server (``DOCVAL_FORK=0`` turns it off)."""
    return os.environ.get("DOCVAL_FORK", "1") != "0" and hasattr(os, "fork")


class ForkServerError(RuntimeError):
    """The server died or answered something unexpected; the command is run without it."""


class _Server:
    """One server process (this file run as ``python forkserver.py``) and its request pipes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=tempfile.gettempdir(),
        )
        self._buffer = b""
        try:
            ready = self._line(timeout=120)
        except BaseException:
            self.close()
            raise
        if ready.get("ready") is not True:
            self.close()
            raise ForkServerError(f"the fork server did not start: {ready}")

    def _line(self, timeout: float | None) -> dict[str, object]:
        """The server's next reply (read unbuffered, so ``select`` sees what is still to come)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            readable, _, _ = select.select([fd], [], [], timeout)
            if not readable:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ForkServerError(f"the fork server exited ({self.proc.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)  # type: ignore[no-any-return]

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float
            ) -> subprocess.CompletedProcess[str]:
        assert self.proc.stdin is not None
        with tempfile.TemporaryDirectory(prefix="docval-fork-") as tmp:
            out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
            request = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err)}
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
            pid = int(self._line(timeout=60)["pid"])  # type: ignore[call-overload]
            try:
                returncode = int(self._line(timeout=timeout)["returncode"])  # type: ignore[call-overload]
                timed_out = False
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                returncode, timed_out = int(self._line(timeout=60)["returncode"]), True  # type: ignore[call-overload]
            stdout = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""
            stderr = err.read_text(encoding="utf-8", errors="replace") if err.exists() else ""
        if timed_out:
            stderr += f"\ntimed out after {timeout}s"
        return subprocess.CompletedProcess(["python", *argv], returncode, stdout, stderr)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


_servers: dict[tuple[str, ...], _Server] = {}


def _startup_env(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """``env`` as the server's interpreter needs it: a ``PYTHONPATH`` that starts with the working
    directory (as pytester sets it) serves as the rest of it, since ``python -m`` puts the working
    directory first on ``sys.path`` anyway (the child still gets ``env`` as it is)."""
    path = env.get("PYTHONPATH")
    if path is None:
        return env
    first, _, rest = path.partition(os.pathsep)
    if first != str(cwd):
        return env
    startup = {name: value for name, value in env.items() if name != "PYTHONPATH"}
    if rest:
        startup["PYTHONPATH"] = rest
    return startup


def _key(env: dict[str, str]) -> tuple[str, ...]:
    return tuple(env.get(name, "\0") for name in (*STARTUP_ENV, AUTOLOAD_OFF))


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``python <argv>`` (argv starts with ``-m module``) in ``cwd`` with exactly ``env``, like
    ``subprocess.run(..., capture_output=True, text=True)``; a timeout kills the child (exit -9)."""
    if argv[:1] != ["-m"] or len(argv) < 2:
        raise ValueError(f"the fork server runs python -m commands only, not {argv}")
    startup = _startup_env(env, cwd)
    key = _key(startup)
    server = _servers.get(key)
    try:
        if server is None or server.proc.poll() is not None:
            server = _servers[key] = _Server({name: startup[name] for name in startup if name in STARTUP_ENV or
                                              name in (AUTOLOAD_OFF, "PATH", "HOME", "LANG", "LC_ALL")})
        return server.run(argv, cwd, env, timeout)
    except (ForkServerError, TimeoutError, OSError, ValueError, KeyError) as exc:
        if server is not None:
            server.close()
        _servers.pop(key, None)
        raise ForkServerError(str(exc)) from exc


def try_run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str] | None:
    """:func:`run` when the fork server is on and works; ``None``: start the command another way."""
    if not enabled():
        return None
    try:
        return run(argv, cwd, env, timeout)
    except ForkServerError:
        return None


def timed_out(proc: subprocess.CompletedProcess[str], timeout: float) -> bool:
    """Whether :func:`run` killed ``proc`` at its ``timeout``."""
    return proc.returncode == -9 and proc.stderr.endswith(f"timed out after {timeout}s")


@atexit.register
def _close_all() -> None:
    for server in _servers.values():
        server.close()
    _servers.clear()


# --- the server side (this file run as a script) ------------------------------------------------


def _child(request: dict[str, object], replies: int) -> None:
    """In the forked child: become ``python -m <module> <args>`` as the request describes."""
    import runpy

    os.close(replies)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
    cwd = str(request["cwd"])
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})  # type: ignore[attr-defined]
    tempfile.tempdir = None  # found again from the child's TMPDIR
    sys.path[0] = cwd  # what ``python -m`` puts first
    sys.argv = [argv[1], *argv[2:]]  # run_module replaces argv[0] with the module's file
    runpy.run_module(argv[1], run_name="__main__", alter_sys=True)


def _plugin_modules() -> set[str]:
    """The top-level modules of the installed distributions that have a pytest plugin (pytest
    rewrites the asserts of every module of those distributions)."""
    from importlib.metadata import distributions

    names = set()
    if os.environ.get(AUTOLOAD_OFF):  # only what ``-p`` names is rewritten: an entry point's module
        for dist in distributions():
            names |= {entry.module for entry in dist.entry_points if entry.group == "pytest11"}
        return {module for module in sys.modules if any(module == n or module.startswith(n + ".") for n in names)}
    for dist in distributions():
        if any(entry.group == "pytest11" for entry in dist.entry_points):
            for file in dist.files or []:
                top = Path(str(file)).parts[0]
                if file.suffix == ".py" and not top.endswith(("-info", ".pth")):
                    names.add(top.removesuffix(".py"))
    return names


def _exit_code(code: object) -> int:
    """The exit status of ``SystemExit(code)``, as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _exit(code: int) -> NoReturn:
    """Exit as the interpreter does (non-daemon threads joined, then ``atexit``, then stdio flushed),
    without tearing down every module one by one: that costs a loaded interpreter a tenth of a second
    and no block depends on it."""
    import atexit as exit_hooks
    import threading

    threading._shutdown()  # type: ignore[attr-defined]  # what Py_FinalizeEx runs first
    exit_hooks._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001, S110 - a closed stream has nothing left to flush
            pass
    os._exit(code)


def _serve() -> None:
    import gc
    import importlib

    # Requests come on stdin, replies go to the original stdout; the children's stdio are files.
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    sys.path[0] = os.getcwd()
    for name in PRELOAD + (PRELOAD_AUTOLOAD_OFF if os.environ.get(AUTOLOAD_OFF) else ()):
        try:
            importlib.import_module(name)
        except ImportError:  # not installed here: a child that needs it imports it itself
            pass
    from _pytest.config import default_plugins

    for name in default_plugins:  # pytest's own plugins, imported by every pytest run
        importlib.import_module(f"_pytest.{name}")
    plugins = sorted(_plugin_modules() & set(sys.modules))
    inbox = os.fdopen(requests, "rb")

    def reply(message: dict[str, object]) -> None:
        os.write(replies, json.dumps(message).encode() + b"\n")

    if plugins:  # the children's pytest could not rewrite these: the client runs commands without us
        reply({"ready": False, "plugin modules imported": plugins})
        return
    reply({"ready": True})
    # What the server imported is never garbage: the children's collections (pytest runs one or two
    # at exit) skip it, instead of walking every preloaded module's objects each time.
    gc.freeze()
    for line in inbox:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            inbox.close()
            try:
                _child(request, replies)
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc.code)
            except BaseException:  # noqa: BLE001 - what the interpreter does with an uncaught exception
                sys.excepthook(*sys.exc_info())
                code = 1
            _exit(code)
        reply({"pid": pid})
        _, status = os.waitpid(pid, 0)
        reply({"returncode": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    _serve()
