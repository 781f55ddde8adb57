"""Database URLs: parsing the accepted forms and redacting passwords."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ._errors import InvalidURLError

__all__ = ["DatabaseURL", "redact"]

ACCEPTED_FORMS = (
    "sqlite:///:memory:, sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "postgresql://user:password@host:port/database (also postgres:// and postgresql+asyncpg://)"
)

_PG_SCHEMES = {"postgresql", "postgres", "postgresql+asyncpg", "postgres+asyncpg"}
# The password runs to the *last* '@' of the URL: an unencoded '@' inside a password must not
# leave its tail visible (urlsplit also splits the user info at the last '@').
_CREDENTIALS = re.compile(r"(?P<prefix>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<password>[^\s]*)@")


def redact(text: str) -> str:
    """Replace the password of every URL in ``text`` with ``***``."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('prefix')}***@", text)


def _hide_userinfo(text: str) -> str:
    """For a string that is not even a URL: hide everything before its last '@' (may hold a password)."""
    head, at, tail = text.rpartition("@")
    return f"***@{tail}" if at else text


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL.

    Attributes:
        dialect: ``"sqlite"`` or ``"postgresql"``.
        database: The SQLite path (``":memory:"`` for an in-memory database) or the PostgreSQL
            database name.
        host: PostgreSQL host (``None`` for SQLite or a socket default).
        port: PostgreSQL port (``None`` when the URL has none; the driver default applies).
        user: PostgreSQL user name.
        query: Extra query parameters, passed to the driver.
    """

    dialect: Literal["sqlite", "postgresql"]
    database: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    query: str = ""

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        """Parse ``url``; raise :class:`InvalidURLError` (DF-801) naming the accepted forms."""
        if not isinstance(url, str) or not url.strip():
            raise InvalidURLError(
                f"Expected a database URL string, got {type(url).__name__} {url!r}. "
                f"Accepted forms: {ACCEPTED_FORMS}."
            )
        url = url.strip()
        scheme, sep, rest = url.partition("://")
        scheme = scheme.lower()
        if not sep:
            raise InvalidURLError(
                f"'{_hide_userinfo(url)}' is not a URL (no '://'). Accepted forms: {ACCEPTED_FORMS}."
            )
        if scheme in ("sqlite", "sqlite+aiosqlite"):
            return cls._parse_sqlite(url, rest)
        if scheme in _PG_SCHEMES:
            return cls._parse_postgresql(url, rest)
        raise InvalidURLError(
            f"Unsupported database URL scheme '{scheme}' in '{redact(url)}'. Accepted forms: {ACCEPTED_FORMS}.",
            context={"scheme": scheme},
        )

    @classmethod
    def _parse_sqlite(cls, url: str, rest: str) -> DatabaseURL:
        # sqlite:///:memory: -> rest "/:memory:"; sqlite:///a.db -> "/a.db"; sqlite:////abs -> "//abs"
        if not rest.startswith("/"):
            raise InvalidURLError(
                f"SQLite URL '{redact(url)}' needs three slashes before the path. Accepted forms: {ACCEPTED_FORMS}."
            )
        path, _, query = rest[1:].partition("?")
        if not path:
            raise InvalidURLError(f"SQLite URL '{url}' has no path. Accepted forms: {ACCEPTED_FORMS}.")
        return cls(dialect="sqlite", database=unquote(path), query=query)

    @classmethod
    def _parse_postgresql(cls, url: str, rest: str) -> DatabaseURL:
        try:
            parts = urlsplit("postgresql://" + rest)
            port = parts.port
        except ValueError as exc:
            raise InvalidURLError(
                f"Malformed PostgreSQL URL '{redact(url)}': {redact(str(exc))}. Accepted forms: {ACCEPTED_FORMS}."
            ) from None
        database = unquote(parts.path.lstrip("/"))
        if "/" in database:
            raise InvalidURLError(
                f"Malformed PostgreSQL URL '{redact(url)}': the database name contains '/'. "
                f"Accepted forms: {ACCEPTED_FORMS}."
            )
        return cls(
            dialect="postgresql",
            database=database,
            host=unquote(parts.hostname) if parts.hostname else None,
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            query=parts.query,
        )

    @property
    def is_memory(self) -> bool:
        """True for ``sqlite:///:memory:``."""
        return self.dialect == "sqlite" and self.database == ":memory:"

    def to_dsn(self) -> str:
        """The URL with its password, in the form the driver takes (never log this)."""
        if self.dialect == "sqlite":
            return self.database
        return self._render(self.password)

    def _render(self, password: str | None) -> str:
        netloc = ""
        if self.user is not None:
            netloc = quote(self.user, safe="")
            if password is not None:
                netloc += ":" + (password if password == "***" else quote(password, safe=""))
            netloc += "@"
        if self.host:
            netloc += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            netloc += f":{self.port}"
        return urlunsplit(("postgresql", netloc, "/" + quote(self.database), self.query, ""))

    @property
    def redacted(self) -> str:
        """The URL with the password replaced by ``***``: safe for logs and messages."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.database}"
        return self._render("***" if self.password is not None else None)

    @property
    def location(self) -> str:
        """``host:port`` for messages (``localhost:5432`` when the URL leaves them to defaults)."""
        return f"{self.host or 'localhost'}:{self.port or 5432}"

    def __str__(self) -> str:
        return self.redacted
