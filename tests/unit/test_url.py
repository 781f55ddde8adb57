"""URL parsing and password redaction (no database needed)."""

from __future__ import annotations

import logging

import pytest

from dataflow import AsyncLocalRuntime, ConfigurationError, DataFlow, InvalidURLError, WorkflowBuilder
from dataflow._dialects import parse_url

SECRET = "hunter2Secret"


@pytest.mark.parametrize(
    ("url", "database"),
    [
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite:///app.db", "app.db"),
        ("sqlite:///data/sub/app.db", "data/sub/app.db"),
        ("sqlite:////tmp/abs/app.db", "/tmp/abs/app.db"),
        ("SQLITE:///app.db", "app.db"),
    ],
)
def test_sqlite_forms(url: str, database: str) -> None:
    parsed = parse_url(url)
    assert parsed.dialect == "sqlite"
    assert parsed.database == database
    assert parsed.is_memory is (database == ":memory:")
    db = DataFlow(url)
    assert db.dialect == "sqlite"
    assert db.url == f"sqlite:///{database}"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
def test_postgresql_schemes(scheme: str) -> None:
    parsed = parse_url(f"{scheme}://alice:{SECRET}@db.example.com:6543/shop")
    assert parsed.dialect == "postgresql"
    assert (parsed.host, parsed.port, parsed.user, parsed.database) == ("db.example.com", 6543, "alice", "shop")
    assert parsed.password == SECRET
    db = DataFlow(f"{scheme}://alice:{SECRET}@db.example.com:6543/shop")
    assert db.dialect == "postgresql"
    assert db.url == "postgresql://alice:***@db.example.com:6543/shop"


def test_missing_port_uses_default() -> None:
    parsed = parse_url("postgresql://bob:pw@localhost/app")
    assert parsed.port is None
    assert parsed.host == "localhost"
    assert parsed.location == "localhost:5432"
    assert DataFlow("postgresql://bob:pw@localhost/app").url == "postgresql://bob:***@localhost/app"


def test_ipv6_host() -> None:
    parsed = parse_url(f"postgresql://u:{SECRET}@[::1]:5433/app")
    assert parsed.host == "::1"
    assert parsed.port == 5433
    assert parsed.redacted == "postgresql://u:***@[::1]:5433/app"
    assert "[::1]:5433" in parsed.to_dsn()


def test_percent_encoded_password_is_decoded_and_redacted() -> None:
    url = "postgresql://carol:p%40ss%2Fw%3Ard@host:5432/app"
    parsed = parse_url(url)
    assert parsed.password == "p@ss/w:rd"
    # The driver DSN keeps the password correctly encoded.
    assert parse_url(parsed.to_dsn()).password == "p@ss/w:rd"
    db = DataFlow(url)
    for text in (db.url, repr(db), str(parsed), repr(parsed)):
        assert "p@ss" not in text and "p%40ss" not in text, text


def test_no_password_and_no_user() -> None:
    assert DataFlow("postgresql://host/app").url == "postgresql://host/app"
    assert DataFlow("postgresql://user@host/app").url == "postgresql://user@host/app"


def test_default_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert DataFlow().url == "sqlite:///:memory:"
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:{SECRET}@h:1/d")
    db = DataFlow()
    assert db.dialect == "postgresql"
    assert SECRET not in db.url and SECRET not in repr(db)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "app.db",
        "mysql://root:{pw}@localhost/app",
        "sqlite://app.db",
        "sqlite:///",
        "http://example.com/db",
        "postgresql://u:{pw}@host:notaport/app",
        "postgresql://u:{pw}@host:99999/app",
        "postgresql://u:{pw}@host/app/extra",
        "postgresql://u:{pw}@[::1/app",
    ],
)
def test_malformed_urls_raise_df801_listing_forms(url: str) -> None:
    url = url.replace("{pw}", SECRET)
    with pytest.raises(InvalidURLError) as info:
        DataFlow(url)
    err = info.value
    assert err.code == "DF-801"
    assert isinstance(err, ConfigurationError)
    text = str(err)
    assert text.startswith("DF-801")
    for form in ("sqlite:///:memory:", "sqlite:////absolute", "postgresql://"):
        assert form in text, text
    for rendered in (text, repr(err), str(err.context), err.detail):
        assert SECRET not in rendered


def test_non_string_url_raises_df801() -> None:
    with pytest.raises(InvalidURLError):
        DataFlow(42)  # type: ignore[arg-type]


async def test_password_never_leaks_on_connection_failure(caplog: pytest.LogCaptureFixture) -> None:
    """A refused connection: the error, its cause chain text, logs and metrics hide the password."""
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://alice:{SECRET}@127.0.0.1:1/app"
    db = DataFlow(url, connect_timeout=3)

    @db.model
    class Secretive:
        id: int
        name: str

    workflow = WorkflowBuilder().add_node("SecretiveCreateNode", "c", {"name": "x"}).build()
    try:
        with pytest.raises(Exception) as info:
            await AsyncLocalRuntime().execute_workflow_async(workflow)
        err = info.value
        assert getattr(err, "code", "").startswith("DF-5"), err
        for text in (str(err), repr(err), str(getattr(err, "context", ""))):
            assert SECRET not in text
        assert SECRET not in str(db.get_cleanup_metrics())
        assert SECRET not in db.url and SECRET not in repr(db)
    finally:
        await db.close()
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in caplog.text
