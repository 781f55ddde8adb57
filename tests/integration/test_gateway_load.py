"""The gateway's load benchmark, bounded: 10 clients for 2 s against a real uvicorn server on
loopback, on both backends. Speed is judged in benchmarks/ (``gateway_load``); here only that not
one request failed and the row is complete."""

from __future__ import annotations

from pathlib import Path

from benchmarks._backends import make_target
from benchmarks.gateway import measure


def test_concurrent_clients_get_no_failed_request(backend: str, database_url: str, tmp_path: Path) -> None:
    target = make_target("postgresql" if backend == "postgresql" else "sqlite-file", tmp_path, pg_url=database_url)
    if backend != "postgresql":
        target = type(target)(target.backend, database_url, str(tmp_path / "raw.db"), tmp_path)
    row = measure(target, clients=10, seconds=2.0)[0]
    assert row.extra["failed"] == 0 and row.extra["requests"] >= 50, row.extra
    assert row.extra["p99_ms"] >= row.extra["p50_ms"] > 0 and row.raw is not None
