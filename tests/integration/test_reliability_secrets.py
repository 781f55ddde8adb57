"""No password from a connection URL ever shows up: messages, logs, repr/str, db.url, metrics.

A dedicated PostgreSQL role with a distinctive password owns a dedicated database. The checks cover
successful use (nodes, transactions, a unique violation, a stale pool after a bare-closed loop) and
connection failures (wrong port, wrong password, wrong database, unknown user, malformed URLs,
passwords that contain URL delimiters). Every text is searched for the raw password, its
percent-encoded form and its distinctive core, in: ``str``/``repr`` of the error, its context, the
whole chained traceback, every record of the ``dataflow`` logger at DEBUG (with exc_info), warnings,
``repr(db)``, ``str(db)``, ``db.url`` and ``db.get_cleanup_metrics()``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import traceback
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from dataflow import AsyncLocalRuntime, DataFlow, DataFlowError, WorkflowBuilder

_HBA_EDITED: dict[str, bool] = {}
CORE = "Zq9xK7vB4w"  # distinctive: never appears in any DataFlow or PostgreSQL text by chance


def _password(special: str = "") -> str:
    return f"pw-{CORE}-{uuid.uuid4().hex[:6]}{special}"


def _forms(password: str) -> list[str]:
    return [password, quote(password, safe=""), CORE]


def _texts_of_error(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, DataFlowError):
        texts.append(repr(exc.context))
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        texts += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    return texts


def _texts_of_db(db: DataFlow) -> list[str]:
    return [repr(db), str(db), db.url, repr(db.get_cleanup_metrics())]


def _texts_of_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in caplog.records]


def _assert_clean(password: str, texts: list[str]) -> None:
    for text in texts:
        for form in _forms(password):
            assert form not in text, f"password leaked ({form!r}) in: {text[:500]}"


def _with_password(url: str, user: str, password: str, *, database: str | None = None, port: int | None = None) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port or parts.port}"
    path = "/" + (database if database is not None else parts.path.lstrip("/"))
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


async def _admin(postgres_server: Any) -> Any:
    import asyncpg

    return await asyncpg.connect(postgres_server.admin_url)


@pytest.fixture
def secret_role(postgres_server: Any) -> Iterator[tuple[str, str, str]]:
    """A login role with a distinctive password, owning a fresh database: (url, user, password).

    The role requires its password (scram) through a pg_hba.conf line for this role only, when the
    server's pg_hba.conf is writable (the throwaway server); otherwise the server may trust it.
    """
    user = f"df_secret_{uuid.uuid4().hex[:10]}"
    password = _password()
    db_url = postgres_server.create_database()
    database = urlsplit(db_url).path.lstrip("/")
    state: dict[str, Any] = {}

    async def setup() -> None:
        admin = await _admin(postgres_server)
        try:
            await admin.execute(
                f"SET password_encryption = 'scram-sha-256'; CREATE ROLE {user} LOGIN PASSWORD '{password}'"
            )
            await admin.execute(f'ALTER DATABASE "{database}" OWNER TO {user}')
            hba = Path(await admin.fetchval("SHOW hba_file"))
            try:
                original = hba.read_text()
                lines = "".join(f"host all {user} {net} scram-sha-256\n" for net in ("127.0.0.1/32", "::1/128"))
                hba.write_text(lines + original)
                state["hba"] = (hba, lines)
                _HBA_EDITED[user] = True
                await admin.fetchval("SELECT pg_reload_conf()")
                await asyncio.sleep(0.2)
            except OSError:
                state["hba"] = None
        finally:
            await admin.close()

    async def teardown() -> None:
        admin = await _admin(postgres_server)
        try:
            if state.get("hba"):
                hba, lines = state["hba"]
                hba.write_text(hba.read_text().replace(lines, ""))
                await admin.fetchval("SELECT pg_reload_conf()")
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.execute(f"DROP ROLE IF EXISTS {user}")
        finally:
            await admin.close()

    asyncio.run(setup())
    try:
        yield _with_password(db_url, user, password), user, password
    finally:
        asyncio.run(teardown())


def _model(db: DataFlow) -> None:
    @db.model
    class Secretive:
        id: int
        email: str = ""

    db.model(type("Unique", (), {"__annotations__": {"id": str, "v": int}}))


async def _run(db: DataFlow, node: str, params: dict[str, Any]) -> dict[str, Any]:
    builder = WorkflowBuilder()
    builder.add_node(db.nodes[node], "n", params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(builder.build())
    return results["n"]


@pytest.mark.dataflow_leaks_expected(
    reason="a stale pool (bare-closed loop) is part of what must not leak the password"
)
def test_successful_use_never_shows_the_password(
    secret_role: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Normal work, a constraint error and a stale pool: password nowhere."""
    url, _, password = secret_role
    caplog.set_level(logging.DEBUG, logger="dataflow")
    texts: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db = DataFlow(url, test_mode=True)
        _model(db)
        texts += _texts_of_db(db)

        async def work() -> None:
            await _run(db, "SecretiveCreateNode", {"email": "a@example.com"})
            async with db.transaction():
                await _run(db, "SecretiveBulkCreateNode", {"records": [{"email": "b"}, {"email": "c"}]})
            await _run(db, "UniqueCreateNode", {"id": "k", "v": 1})
            try:
                await _run(db, "UniqueCreateNode", {"id": "k", "v": 2})
            except DataFlowError as exc:
                texts.extend(_texts_of_error(exc))
            texts.extend(_texts_of_db(db))

        old = asyncio.new_event_loop()
        old.run_until_complete(work())
        old.close()  # a stale pool: its cleanup warns and logs with the URL
        with asyncio.Runner() as runner:
            assert runner.run(_run(db, "SecretiveCountNode", {}))["count"] == 3
            texts += _texts_of_db(db)
            runner.run(db.close())
        texts += _texts_of_db(db)
        with pytest.raises(DataFlowError) as info:
            asyncio.run(_run(db, "SecretiveCountNode", {}))
        texts += _texts_of_error(info.value)
    texts += [str(w.message) for w in caught]
    texts += _texts_of_logs(caplog)
    assert any("***" in t for t in texts), "expected the redacted URL somewhere"
    _assert_clean(password, texts)
    del old
    gc.collect()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _failure(url: str, caplog: pytest.LogCaptureFixture, **kwargs: Any) -> tuple[DataFlowError, list[str]]:
    caplog.set_level(logging.DEBUG, logger="dataflow")
    db = DataFlow(url, test_mode=True, connect_timeout=5, **kwargs)
    _model(db)
    texts = _texts_of_db(db)

    async def attempt() -> DataFlowError:
        try:
            with pytest.raises(DataFlowError) as info:
                await _run(db, "SecretiveCountNode", {})
            return info.value
        finally:
            texts.extend(_texts_of_db(db))
            await db.close()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = asyncio.run(attempt())
    texts += _texts_of_error(error) + _texts_of_db(db) + [str(w.message) for w in caught] + _texts_of_logs(caplog)
    return error, texts


def test_wrong_port(secret_role: tuple[str, str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, user, password = secret_role
    error, texts = _failure(_with_password(url, user, password, port=_free_port()), caplog)
    assert error.code == "DF-501", str(error)
    _assert_clean(password, texts)


def test_wrong_database(secret_role: tuple[str, str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, user, password = secret_role
    error, texts = _failure(_with_password(url, user, password, database=f"nope_{uuid.uuid4().hex[:8]}"), caplog)
    assert error.code == "DF-503", str(error)
    _assert_clean(password, texts)


def test_unknown_user(secret_role: tuple[str, str, str], caplog: pytest.LogCaptureFixture) -> None:
    url, _, password = secret_role
    error, texts = _failure(_with_password(url, f"ghost_{uuid.uuid4().hex[:8]}", password), caplog)
    assert error.code == "DF-502", str(error)
    _assert_clean(password, texts)


def test_wrong_password(secret_role: tuple[str, str, str], caplog: pytest.LogCaptureFixture) -> None:
    """The URL's password is wrong; neither it nor the real one is shown."""
    url, user, real = secret_role
    wrong = _password()
    error, texts = _failure(_with_password(url, user, wrong), caplog)
    if error.code != "DF-502" and not _HBA_EDITED.get(user):
        pytest.skip(f"this server trusts {user} (pg_hba.conf not writable here), a wrong password is accepted")
    assert error.code == "DF-502", str(error)
    _assert_clean(wrong, texts)
    _assert_clean(real, texts)


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://user:{pw}@localhost:notaport/db",
        "postgresql://user:{pw}@localhost:99999/db",
        "postgresql://user:{pw}@localhost:5432/db/extra",
        "mysql://user:{pw}@localhost/db",
        "postgresql+psycopg2://user:{pw}@localhost/db",
        "user:{pw}@localhost/db",
        "postgresql://user:{raw}@localhost:notaport/db",
        "postgresql://user:{raw}@localhost/db/x",
    ],
    ids=["bad-port", "port-range", "slash-db", "mysql", "psycopg2", "no-scheme", "raw-at-bad-port", "raw-at-slash"],
)
def test_malformed_urls_never_echo_the_password(template: str, caplog: pytest.LogCaptureFixture) -> None:
    """DF-801 for malformed/unsupported URLs, also when the password holds unencoded '@' or ':'."""
    caplog.set_level(logging.DEBUG, logger="dataflow")
    password = _password()
    raw = f"{password[:8]}@{password[8:14]}:{password[14:]}"  # delimiters inside, not encoded
    url = template.format(pw=quote(password, safe=""), raw=raw)
    with pytest.raises(DataFlowError) as info:
        DataFlow(url, test_mode=True)
    assert info.value.code in ("DF-801", "DF-802"), str(info.value)
    texts = _texts_of_error(info.value) + _texts_of_logs(caplog)
    _assert_clean(password, texts)
    for piece in (password[:8], password[8:14], password[14:]):
        for text in texts:
            assert piece not in text or piece in ("pw-Zq9xK",), f"password piece {piece!r} leaked: {text[:300]}"


def test_valid_url_with_delimiters_in_password_is_redacted(
    postgres_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A percent-encoded password containing @ : / % # ? is hidden in db.url, repr and errors."""
    caplog.set_level(logging.DEBUG, logger="dataflow")
    password = _password("@:/%#?&= ")
    parts = urlsplit(postgres_server.admin_url)
    url = f"postgresql://ghost_{uuid.uuid4().hex[:6]}:{quote(password, safe='')}@127.0.0.1:{_free_port()}/x"
    db = DataFlow(url, test_mode=True, connect_timeout=5)
    assert db.url.startswith("postgresql://ghost_") and ":***@" in db.url
    error, texts = _failure(url, caplog)
    assert error.code == "DF-501"
    _assert_clean(password, texts + _texts_of_db(db))
    assert parts.scheme.startswith("postgres")
