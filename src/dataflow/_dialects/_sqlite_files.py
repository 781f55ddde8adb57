"""SQLite test databases are files: clone with the backup API, label with a file next to the database
(``<file>.dataflow``), list the files named ``<stem>_<suffix><ext>`` next to the base."""

from __future__ import annotations

from pathlib import Path

from .._url import DatabaseURL
from ._test_databases import TestDatabases

__all__ = ["SQLiteTestDatabases", "drop_files", "with_suffix"]

#: The label file's suffix, added to the database file's name.
NOTE_SUFFIX = ".dataflow"


def with_suffix(url: DatabaseURL, suffix: str) -> DatabaseURL:
    """``<dir>/<stem>_<suffix><ext>`` for a file database (``:memory:`` stays as it is)."""
    if url.is_memory:
        return url
    path = Path(url.database)
    return url.with_database(str(path.with_name(f"{path.stem}_{suffix}{path.suffix}")))


def drop_files(url: DatabaseURL) -> None:
    """Remove a database file with its WAL, shared-memory and label files."""
    if not url.is_memory:
        for extra in ("", "-wal", "-shm", NOTE_SUFFIX):
            Path(url.database + extra).unlink(missing_ok=True)


class SQLiteTestDatabases(TestDatabases):
    """Files: ``sqlite3`` backups, label files, a directory listing."""

    def clone(self, url: DatabaseURL, template: DatabaseURL, admin: DatabaseURL) -> None:
        import sqlite3  # not at import time: ``import dataflow`` loads no driver

        drop_files(url)
        source = sqlite3.connect(template.database)
        try:
            target = sqlite3.connect(url.database)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()

    def note(self, url: DatabaseURL, admin: DatabaseURL) -> str | None:
        if url.is_memory or not Path(url.database).exists():
            return None
        label = Path(url.database + NOTE_SUFFIX)
        return label.read_text(encoding="utf-8") if label.exists() else ""

    def set_note(self, url: DatabaseURL, admin: DatabaseURL, note: str) -> None:
        Path(url.database + NOTE_SUFFIX).write_text(note, encoding="utf-8")

    def derived(self, base: DatabaseURL, admin: DatabaseURL) -> list[DatabaseURL]:
        if base.is_memory:
            return []
        path = Path(base.database)
        found = sorted(path.parent.glob(f"{path.stem}_*{path.suffix}")) if path.parent.is_dir() else []
        return [base.with_database(str(p)) for p in found if p.is_file()]
