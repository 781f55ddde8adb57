"""The REST gateway under load: concurrent clients on loopback against a real uvicorn server.

``gateway_load``
    ``clients`` httpx clients, each sending one request after the other for ``seconds``: reads by
    id (4 in 5) and creates (1 in 5), against ``create_gateway_api()`` served by uvicorn in a
    thread of this process. The row is each request's latency (p50 as the median, p99 in
    ``extra``) with ``failed`` requests counted; its target is 0 failed requests and a p99 under
    :data:`P99_MS`. The raw side is the same reads and creates on the raw driver, one client
    after the other, for the latency floor under the HTTP stack.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import statistics
import threading
import time
from typing import Any

from ._backends import Target
from ._harness import Result, Stats

#: What a request may take at the 99th percentile, in milliseconds, with every client busy.
P99_MS = 250.0

TOKEN = "bench-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _app(url: str) -> Any:
    from fastapi import Header, HTTPException

    from dataflow import DataFlow
    from dataflow.gateway import create_gateway_api

    db = DataFlow(url, test_mode=False, pool_max_size=20)

    @db.model(table="bench_gateway_items")
    class GatewayItem:
        id: int
        name: str
        qty: int = 0

    def auth(authorization: str | None = Header(None)) -> str:
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(status_code=401)
        return "bench"

    return db, create_gateway_api(db, models=[GatewayItem], auth=auth)


class _Server:
    """uvicorn serving ``app`` on a free loopback port, in a thread with its own loop."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="bench-gateway", daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the benchmark's uvicorn server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


async def _load(base: str, clients: int, seconds: float) -> tuple[list[float], int, int]:
    import httpx

    latencies: list[float] = []
    failed = 0
    seq = itertools.count()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        ids = [(await http.post("/bench_gateway_items", json={"name": f"seed{i}"})).json()["id"] for i in range(20)]
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal failed
            while time.perf_counter() < deadline:
                n = next(seq)
                start = time.perf_counter()
                try:
                    if n % 5 == 0:
                        response = await http.post("/bench_gateway_items", json={"name": f"load{n}", "qty": n})
                        ok = response.status_code == 201
                    else:
                        response = await http.get(f"/bench_gateway_items/{ids[n % len(ids)]}")
                        ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - start) * 1000)
                failed += 0 if ok else 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, failed, len(latencies)


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
    db, app = _app(target.df_url)
    with _Server(app) as server:
        latencies, failed, total = asyncio.run(_load(f"http://127.0.0.1:{server.port}", clients, seconds))

    async def drop() -> None:
        await db.drop_tables()
        await db.close()

    asyncio.run(drop())
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
