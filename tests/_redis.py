"""Redis for the DataFlow test suite and the benchmarks (the query cache's Redis backend).

Two ways to get a server, in this order:

1. ``DATAFLOW_TEST_REDIS_URL``: a running server (``redis://host:port/0``). Nothing is started or
   stopped, so the tests that stop the server mid-test fail on it with the reason.
2. A throwaway ``redis-server`` (Debian package ``redis-server``) on a free loopback port, without
   persistence (``--save "" --appendonly no``), one per pytest-xdist worker, stopped afterwards. It
   never touches a system service on 6379.

``redis-server`` is ``$DATAFLOW_TEST_REDIS_SERVER`` when set, else the one on ``PATH`` or in
``/usr/bin``. When no server can be provided: with ``CI=true`` or ``DATAFLOW_TEST_REQUIRE_REDIS=1``
(set by the nox sessions) the tests that need it fail; otherwise they are skipped with the reason.

The module only imports the standard library, so ``noxfile.py`` can load it. It is also a command
line tool (used by ``nox -s bench``)::

    python tests/_redis.py run -- python -m benchmarks

runs the command with ``DATAFLOW_BENCH_REDIS_URL`` set to a throwaway server's URL.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

ENV_URL = "DATAFLOW_TEST_REDIS_URL"
"""URL of a running Redis server; when set, no server is started."""

ENV_SERVER = "DATAFLOW_TEST_REDIS_SERVER"
"""Path of the ``redis-server`` to start."""

ENV_REQUIRE = "DATAFLOW_TEST_REQUIRE_REDIS"
"""``1``: a missing Redis fails the run even outside CI (the nox test sessions set it)."""

ENV_BENCH_URL = "DATAFLOW_BENCH_REDIS_URL"
"""Set by the ``run`` command: the URL of the throwaway server for the wrapped command."""

_CI_TRUE = {"1", "true", "yes", "on"}


class RedisUnavailableError(RuntimeError):
    """No Redis server could be provided; the message says why and what to do."""


def find_redis_server(environ: Mapping[str, str] | None = None) -> Path:
    """The ``redis-server`` to start (``$DATAFLOW_TEST_REDIS_SERVER``, ``PATH``, ``/usr/bin``).

    Raises:
        RedisUnavailableError: None is installed.
    """
    env = os.environ if environ is None else environ
    override = env.get(ENV_SERVER)
    if override:
        if os.access(override, os.X_OK):
            return Path(override)
        raise RedisUnavailableError(f"{ENV_SERVER}={override} is not an executable file.")
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found is None:
        raise RedisUnavailableError("no redis-server on PATH or in /usr/bin; the Redis server is not installed.")
    return Path(found)


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Redis server answers ``PING`` at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def command(host: str, port: int, *args: str, timeout: float = 5.0) -> bytes:
    """Send one command (RESP) and return the raw reply (for ACL setup in tests)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        return sock.recv(65536)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A Redis server for tests: its URL, and (when this process started it) stop and start.

    Attributes:
        host, port: Where it listens.
        owned: True for a throwaway server this process started.
    """

    def __init__(self, host: str, port: int, *, owned: bool, executable: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.owned = owned
        self._executable = executable
        self._process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="dataflow-redis-") if owned else None

    def __repr__(self) -> str:
        return f"RedisServer({self.host}:{self.port}, owned={self.owned}, running={self.running})"

    def url(self, db: int = 0) -> str:
        """``redis://host:port/db``."""
        return f"redis://{self.host}:{self.port}/{db}"

    @property
    def running(self) -> bool:
        """True when the server answers ``PING``."""
        return ping(self.host, self.port)

    def start(self, timeout: float = 20.0) -> None:
        """Start the throwaway server (again, on the same port) and wait until it answers."""
        self._require_owned("start")
        assert self._executable is not None and self._dir is not None
        self._process = subprocess.Popen(
            [str(self._executable), "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
             "--dir", self._dir, "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self.running:
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RedisUnavailableError(f"redis-server on port {self.port} did not start within {timeout:.0f} s.")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the throwaway server (a Redis outage, for the tests that need one)."""
        self._require_owned("stop")
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stop an owned server and remove its directory."""
        if self.owned:
            self.stop()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def _require_owned(self, what: str) -> None:
        if not self.owned:
            raise RedisUnavailableError(
                f"cannot {what} the Redis server of {ENV_URL}; unset it to use a throwaway one."
            )


def provide_server(environ: Mapping[str, str] | None = None) -> RedisServer:
    """``DATAFLOW_TEST_REDIS_URL``'s server, else a throwaway one (started here).

    Raises:
        RedisUnavailableError: Neither works.
    """
    env = os.environ if environ is None else environ
    url = env.get(ENV_URL)
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 6379
        if not ping(host, port):
            raise RedisUnavailableError(f"{ENV_URL}={url} does not answer PING.")
        return RedisServer(host, port, owned=False)
    server = RedisServer("127.0.0.1", _free_port(), owned=True, executable=find_redis_server(env))
    server.start()
    return server


def handle_unavailable(reason: str, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Fail (``CI=true``, ``DATAFLOW_TEST_REQUIRE_REDIS=1`` or an explicit URL) or skip the test."""
    import pytest

    env = os.environ if environ is None else environ
    fail = env.get("CI", "").strip().lower() in _CI_TRUE or env.get(ENV_REQUIRE) == "1" or bool(env.get(ENV_URL))
    consequence = "Failing: with CI=true a missing Redis is an error." if fail else "Skipping (CI=true fails)."
    message = (
        f"Redis is unavailable: {reason}\n{consequence}\n"
        f"Fix: apt-get install -y redis-server (a throwaway server is started), or set {ENV_URL}=redis://host:port/0."
    )
    if fail:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _run(argv: Sequence[str]) -> int:
    server = provide_server()
    try:
        return subprocess.call(list(argv), env={**os.environ, ENV_BENCH_URL: server.url()})
    finally:
        server.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 3 or args[:2] != ["run", "--"]:
        sys.exit("usage: python tests/_redis.py run -- COMMAND...")
    sys.exit(_run(args[2:]))
