"""Database URLs: the parsed form, the two URL shapes backends use, and redacting passwords.

Which scheme belongs to which backend is decided in ``_dialects`` (one map); this module knows only
the two shapes: a path URL (``scheme:///path``) and a server URL (``scheme://user:pw@host:port/db``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ._errors import InvalidURLError

__all__ = ["ACCEPTED_FORMS", "DatabaseURL", "parse_path_url", "parse_server_url", "redact", "split_scheme"]

ACCEPTED_FORMS = (
    "sqlite:///:memory:, sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "postgresql://user:password@host:port/database (also postgres:// and postgresql+asyncpg://)"
)

MEMORY = ":memory:"
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


def split_scheme(url: str) -> tuple[str, str]:
    """``(scheme in lower case, rest after '://')``; DF-801 for anything that is not a URL string."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidURLError(
            f"Expected a database URL string, got {type(url).__name__} {url!r}. "
            f"Accepted forms: {ACCEPTED_FORMS}."
        )
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidURLError(
            f"'{_hide_userinfo(url)}' is not a URL (no '://'). Accepted forms: {ACCEPTED_FORMS}."
        )
    return scheme.lower(), rest


def unsupported_scheme(url: str, scheme: str) -> InvalidURLError:
    """DF-801 for a scheme no backend takes."""
    return InvalidURLError(
        f"Unsupported database URL scheme '{scheme}' in '{redact(url.strip())}'. Accepted forms: {ACCEPTED_FORMS}.",
        context={"scheme": scheme},
    )


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL.

    Attributes:
        dialect: The backend's name, ``"sqlite"`` or ``"postgresql"``.
        database: The file path (``":memory:"`` for an in-memory database) or the server's database
            name.
        host: Server host (``None`` for a path URL or a socket default).
        port: Server port (``None`` when the URL has none; the driver default applies).
        user: Server user name.
        query: Extra query parameters, passed to the driver.
        path_style: True for ``scheme:///path`` URLs (a database file), False for server URLs.
        default_port: The port the driver uses when the URL has none (for messages).
    """

    dialect: str
    database: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    query: str = ""
    path_style: bool = False
    default_port: int | None = None

    @property
    def is_memory(self) -> bool:
        """True for an in-memory database (``sqlite:///:memory:``)."""
        return self.path_style and self.database == MEMORY

    def to_dsn(self) -> str:
        """The URL with its password, in the form the driver takes (never log this)."""
        if self.path_style:
            return self.database
        return self._render(self.password)

    def render(self) -> str:
        """The URL as a string that :func:`dataflow._dialects.parse_url` reads back (with the password)."""
        if self.path_style:
            return f"{self.dialect}:///{self.database}" + (f"?{self.query}" if self.query else "")
        return self._render(self.password)

    def with_database(self, database: str) -> DatabaseURL:
        """The same server (or directory) with another database name (or file path)."""
        return replace(self, database=database)

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
        return urlunsplit((self.dialect, netloc, "/" + quote(self.database), self.query, ""))

    def same_database(self, other: DatabaseURL) -> bool:
        """True when both URLs reach the same database (an in-memory database is nobody else's)."""
        if self.dialect != other.dialect or self.path_style != other.path_style or self.is_memory:
            return False
        if self.path_style:
            return os.path.realpath(self.database) == os.path.realpath(other.database)
        return (self.host or "localhost", self.port or self.default_port, self.database) == (
            other.host or "localhost",
            other.port or other.default_port,
            other.database,
        )

    @cached_property  # rendered once: error messages, pool events and logs name the URL often
    def redacted(self) -> str:
        """The URL with the password replaced by ``***``: safe for logs and messages."""
        if self.path_style:
            return f"{self.dialect}:///{self.database}"
        return self._render("***" if self.password is not None else None)

    @property
    def location(self) -> str:
        """``host:port`` for messages (``localhost:<driver default>`` when the URL leaves them out)."""
        return f"{self.host or 'localhost'}:{self.port or self.default_port}"

    def __str__(self) -> str:
        return self.redacted


def parse_path_url(dialect: str, url: str, rest: str) -> DatabaseURL:
    """Parse ``scheme:///path[?query]`` (three slashes; four for an absolute path)."""
    # scheme:///:memory: -> rest "/:memory:"; scheme:///a.db -> "/a.db"; scheme:////abs -> "//abs"
    if not rest.startswith("/"):
        raise InvalidURLError(
            f"URL '{redact(url)}' needs three slashes before the path. Accepted forms: {ACCEPTED_FORMS}."
        )
    path, _, query = rest[1:].partition("?")
    if not path:
        raise InvalidURLError(f"URL '{redact(url)}' has no path. Accepted forms: {ACCEPTED_FORMS}.")
    return DatabaseURL(dialect=dialect, database=unquote(path), query=query, path_style=True)


def parse_server_url(dialect: str, url: str, rest: str, *, default_port: int) -> DatabaseURL:
    """Parse ``scheme://user:password@host:port/database[?query]``."""
    try:
        parts = urlsplit("server://" + rest)
        port = parts.port
    except ValueError as exc:
        raise InvalidURLError(
            f"Malformed URL '{redact(url)}': {redact(str(exc))}. Accepted forms: {ACCEPTED_FORMS}."
        ) from None
    database = unquote(parts.path.lstrip("/"))
    if "/" in database:
        raise InvalidURLError(
            f"Malformed URL '{redact(url)}': the database name contains '/'. Accepted forms: {ACCEPTED_FORMS}."
        )
    return DatabaseURL(
        dialect=dialect,
        database=database,
        host=unquote(parts.hostname) if parts.hostname else None,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        query=parts.query,
        default_port=default_port,
    )
