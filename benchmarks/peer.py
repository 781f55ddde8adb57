"""The peer column: SQLAlchemy 2.x Core on the same async drivers, doing the same SQL work.

This is what a user would pick instead of DataFlow for the same job: an ``AsyncEngine``
(``sqlite+aiosqlite``, ``postgresql+asyncpg``), a ``Table`` of the same shape, and Core statements
written the way SQLAlchemy's documentation shows them:

- writes in ``async with engine.begin() as conn`` (one transaction per call, committed),
- reads in ``async with engine.connect() as conn``,
- rows handed back as dicts (``result.mappings()``), like DataFlow's records,
- bulk create as ``conn.execute(insert(table), rows)`` (SQLAlchemy's "insertmanyvalues" batching),
- upsert with the dialect's ``insert(...).on_conflict_do_update(...)`` + ``RETURNING``.

The engine keeps SQLAlchemy's defaults (compiled-statement cache on; the pool the dialect picks,
``pool_size=5`` + overflow on PostgreSQL), with the PRAGMAs of the other two sides on a SQLite file.
"""

from __future__ import annotations

from typing import Any

from ._backends import Target

PEER_TABLE = "peer_users"
LABEL = "SQLAlchemy 2.x Core, AsyncEngine"


class SQLAlchemyCore:
    """The SQLAlchemy side of one backend (open on the benchmark's event loop)."""

    def __init__(self, target: Target) -> None:
        import sqlalchemy as sa

        self.target = target
        self.sa = sa
        self.meta = sa.MetaData()
        self.table = sa.Table(
            PEER_TABLE,
            self.meta,
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                      autoincrement=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("email", sa.Text, nullable=False, unique=True),
            sa.Column("age", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, index=True),
            sa.Column("active", sa.Boolean, nullable=False),
        )
        if target.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert_insert
        self._upsert_insert = upsert_insert
        self.engine: Any = None

    def url(self) -> str:
        if self.target.backend == "postgresql":
            return self.target.raw_location.replace("postgresql://", "postgresql+asyncpg://", 1).replace(
                "postgres://", "postgresql+asyncpg://", 1)
        if self.target.backend == "sqlite-memory":
            return "sqlite+aiosqlite:///:memory:"
        return f"sqlite+aiosqlite:///{self.target.workdir / 'peer.db'}"

    async def open(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.ext.asyncio import create_async_engine

        self.engine = create_async_engine(self.url())
        if self.target.backend == "sqlite-file":
            @event.listens_for(self.engine.sync_engine, "connect")
            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        async with self.engine.begin() as conn:
            await conn.run_sync(self.meta.drop_all)
            await conn.run_sync(self.meta.create_all)

    async def close(self) -> None:
        if self.engine is None:
            return
        if self.target.backend != "sqlite-memory":
            async with self.engine.begin() as conn:
                await conn.run_sync(self.meta.drop_all)
        await self.engine.dispose()
        self.engine = None

    # --- the operations ---------------------------------------------------------------------------

    async def clear(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(self.table.delete())

    async def create(self, name: str, email: str, age: int, active: bool) -> dict[str, Any]:
        t = self.table
        async with self.engine.begin() as conn:
            result = await conn.execute(
                t.insert().values(name=name, email=email, age=age, active=active).returning(*t.c))
            return dict(result.mappings().one())

    async def bulk_create(self, rows: list[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(self.table.insert(), rows)

    async def read(self, record_id: int) -> dict[str, Any]:
        t = self.table
        async with self.engine.connect() as conn:
            result = await conn.execute(self.sa.select(t).where(t.c.id == record_id).limit(1))
            return dict(result.mappings().one())

    async def ids(self) -> list[int]:
        t = self.table
        async with self.engine.connect() as conn:
            return list((await conn.execute(self.sa.select(t.c.id).order_by(t.c.id))).scalars())

    async def list(self, age_below: int, active: bool, limit: int) -> list[dict[str, Any]]:
        t = self.table
        stmt = self.sa.select(t).where(t.c.age < age_below, t.c.active == active).order_by(t.c.id).limit(limit)
        async with self.engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(stmt)).mappings()]

    async def count(self, active: bool) -> int:
        t = self.table
        stmt = self.sa.select(self.sa.func.count()).select_from(t).where(t.c.active == active)
        async with self.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def upsert(self, email: str, name: str, age: int, active: bool, new_age: int) -> dict[str, Any]:
        t = self.table
        stmt = self._upsert_insert(t).values(email=email, name=name, age=age, active=active)
        stmt = stmt.on_conflict_do_update(index_elements=[t.c.email], set_={"age": new_age}).returning(*t.c)
        async with self.engine.begin() as conn:
            return dict((await conn.execute(stmt)).mappings().one())
