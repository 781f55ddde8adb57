"""The benchmark's gateway server: ``python benchmarks/_gateway_server.py URL PORT``.

Runs ``create_gateway_api()`` under uvicorn in its own process, as it is deployed, so the load
generator (``gateway.py``) does not share its interpreter lock. SIGINT stops it; the app's lifespan
closes the pools. The table is left for the parent to drop.
"""

from __future__ import annotations

import sys
from typing import Any

TOKEN = "bench-token"
TABLE = "bench_gateway_items"


def declare(db: Any) -> Any:
    """The benchmark's model on ``db`` (the parent declares it too, to drop the table)."""

    @db.model(table=TABLE)
    class GatewayItem:
        id: int
        name: str
        qty: int = 0

    return GatewayItem


def app(url: str) -> Any:
    from fastapi import Header, HTTPException

    from dataflow import DataFlow
    from dataflow.gateway import create_gateway_api

    db = DataFlow(url, test_mode=False, pool_max_size=20)
    model = declare(db)

    def auth(authorization: str | None = Header(None)) -> str:
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(status_code=401)
        return "bench"

    return create_gateway_api(db, models=[model], auth=auth)


def main(url: str, port: str) -> None:
    import uvicorn

    uvicorn.run(app(url), host="127.0.0.1", port=int(port), log_level="warning", lifespan="on")


if __name__ == "__main__":
    main(*sys.argv[1:3])
