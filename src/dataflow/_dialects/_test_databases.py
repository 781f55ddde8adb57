"""What a backend offers the test support for its test databases (worker databases, templates)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from .._url import DatabaseURL

__all__ = ["TestDatabases"]


class TestDatabases(ABC):
    """The test databases of one backend: clone a template, label a database, list a base's databases.

    Blocking (test support): each call opens what it needs and closes it again, so it works inside a
    running event loop too. ``admin`` is the URL the calls connect through (``DATABASE_URL``).
    """

    @abstractmethod
    def clone(self, url: DatabaseURL, template: DatabaseURL, admin: DatabaseURL) -> None:
        """Replace ``url``'s database (dropped first if it exists) with a copy of ``template``'s."""

    @abstractmethod
    def note(self, url: DatabaseURL, admin: DatabaseURL) -> str | None:
        """The label :meth:`set_note` stored on ``url``'s database (``""`` if none), ``None`` if it does not exist."""

    @abstractmethod
    def set_note(self, url: DatabaseURL, admin: DatabaseURL, note: str) -> None:
        """Store ``note`` on ``url``'s (existing) database."""

    @abstractmethod
    def derived(self, base: DatabaseURL, admin: DatabaseURL) -> list[DatabaseURL]:
        """The existing databases whose name is ``base``'s name plus ``_<suffix>``, sorted by name."""
