"""The REST gateway under load: concurrent clients on loopback against a real uvicorn server.

``gateway_load``
    ``clients`` httpx clients, each sending one request after the other for ``seconds``: reads by
    id (4 in 5) and creates (1 in 5), against ``create_gateway_api()`` served by uvicorn in its own
    process (``_gateway_server.py``; in a thread of this one, the clients' Python and the server's
    shared one interpreter lock and the row measured the load generator). The row is each
    request's latency (p50 as the median, p99 in ``extra``) with ``failed`` requests counted; its
    target is 0 failed requests and a p99 under :data:`P99_MS`. The raw side is the same reads and
    creates on the raw driver, one client after the other, for the latency floor under the HTTP
    stack.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ._backends import Target
from ._gateway_server import TABLE, TOKEN, declare
from ._harness import Result, Stats
from .coldstart import child_env

SERVER = Path(__file__).with_name("_gateway_server.py")

#: What a request may take at the 99th percentile, in milliseconds, with every client busy.
P99_MS = 250.0



def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server:
    """``_gateway_server.py`` serving the gateway on a free loopback port, in its own process."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.port = _free_port()
        self.command = [sys.executable, str(SERVER), url, str(self.port)]
        self.env = child_env(workdir)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Server:
        self.proc = subprocess.Popen(self.command, env=self.env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the benchmark's gateway server did not start") from None
                time.sleep(0.05)

    def __exit__(self, exc_type: object = None, *rest: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn shuts down, the lifespan closes the pools
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if exc_type is None and self.proc.returncode != 0:
            raise RuntimeError(f"the gateway server exited with {self.proc.returncode}: {err.decode()[-2000:]}")


async def _load(base: str, clients: int, seconds: float) -> tuple[list[float], int, int]:
    import httpx

    latencies: list[float] = []
    failed = 0
    seq = itertools.count()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # One client (and keep-alive connection) per simulated user: one shared httpx pool serializes
    # its users on the pool's lock and the tail measured that, not the server.
    https = [httpx.AsyncClient(base_url=base, headers=headers, timeout=30) for _ in range(clients)]
    try:
        ids = [(await https[0].post(f"/{TABLE}", json={"name": f"seed{i}"})).json()["id"] for i in range(20)]
        deadline = time.perf_counter() + seconds

        async def client(http: httpx.AsyncClient) -> None:
            nonlocal failed
            while time.perf_counter() < deadline:
                n = next(seq)
                start = time.perf_counter()
                try:
                    if n % 5 == 0:
                        response = await http.post(f"/{TABLE}", json={"name": f"load{n}", "qty": n})
                        ok = response.status_code == 201
                    else:
                        response = await http.get(f"/{TABLE}/{ids[n % len(ids)]}")
                        ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - start) * 1000)
                failed += 0 if ok else 1

        await asyncio.gather(*(client(http) for http in https))
    finally:
        for http in https:
            await http.aclose()
    return latencies, failed, len(latencies)


async def _drop(url: str) -> None:
    from dataflow import DataFlow

    db = DataFlow(url, test_mode=False)
    declare(db)
    try:
        await db.drop_tables()
    finally:
        await db.close()


async def _raw_floor(target: Target, requests: int) -> list[float]:
    raw = target.raw_driver()
    await raw.open()
    try:
        await raw.execute('CREATE TABLE IF NOT EXISTS "bench_gateway_raw" (id INTEGER PRIMARY KEY, name TEXT)')
        samples = []
        for n in range(requests):
            start = time.perf_counter()
            if n % 5 == 0:
                await raw.execute(f'INSERT INTO "bench_gateway_raw" (id, name) VALUES ({n + 1}, \'x\')')
            else:
                await raw.fetch('SELECT id, name FROM "bench_gateway_raw" LIMIT 1')
            samples.append((time.perf_counter() - start) * 1000)
        await raw.execute('DROP TABLE "bench_gateway_raw"')
        return samples
    finally:
        await raw.close()


def measure(target: Target, *, clients: int = 50, seconds: float = 30.0) -> list[Result]:
    """The ``gateway_load`` row of ``target``'s backend."""
    with _Server(target.df_url, target.workdir) as server:
        latencies, failed, total = asyncio.run(_load(f"http://127.0.0.1:{server.port}", clients, seconds))
    if target.backend != "sqlite-memory":  # an in-memory database ended with the server
        asyncio.run(_drop(target.df_url))
    floor = asyncio.run(_raw_floor(target, min(total, 2000)))
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies)
    row = Result(
        "gateway_load",
        f"REST gateway, {clients} clients for {seconds:g} s (4 reads : 1 create), per request",
        target.backend, "ms/request", total, Stats.of(latencies), Stats.of(floor),
        "the same reads and inserts on the raw driver, one after the other",
        f"0 failed, p99 < {P99_MS:g} ms", None,
        extra={"p50_ms": round(statistics.median(latencies), 3), "p99_ms": round(p99, 3), "failed": failed,
               "requests": total, "clients": clients, "seconds": seconds,
               "requests_per_s": round(total / seconds, 1)},
    )
    row.finish()
    row.status = "PASS" if failed == 0 and p99 < P99_MS else "MISS"
    return [row]
