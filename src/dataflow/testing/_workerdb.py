"""Worker databases: one database per pytest-xdist worker, cloned from a template built once.

With ``DATABASE_URL`` set and the tests run under pytest-xdist (``-n``), worker ``gwN`` gets the
database ``<name>_gwN``. It is a copy of ``<name>_template``, which holds the models' tables (or, when
the migrations folder has revisions, the migrated schema) and is built by the first worker that needs
it: ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL, a file copy on SQLite.

Each database is labelled with the schema fingerprint (a hash of the models' DDL, the migration files
and the DataFlow version) and the run it was built in. By default the template is built once per run
and every worker database is cloned afresh; with ``--dataflow-reuse-db`` both are kept while their
fingerprint matches, so a second run creates nothing, and one whose models or migrations changed is
rebuilt. A run without xdist is one worker, ``main``, when given ``--dataflow-reuse-db`` (database
``<name>_main``); without the option it uses ``DATABASE_URL``'s database as it is.
``--dataflow-drop-db`` removes ``<name>_gwN``, ``<name>_main``, ``<name>_template`` and the migration
tests' databases when the run ends (``dataflow testdb --drop`` does the same from the command line).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .._dataflow import DataFlow
from .._dialects import Backend, backend_for, parse_url
from .._errors import TestDatabaseOptionsError
from .._loops import run_blocking
from .._model import build_model_spec
from .._schema import model_table
from .._testdbs import drop_test_databases
from .._url import DatabaseURL
from .._version import __version__
from ._urls import run_worker, session_url

__all__ = [
    "WorkerDatabases",
    "add_options",
    "fingerprint",
    "prepare_worker_database",
    "worker_session_url",
]

_RUN_KEY = pytest.StashKey[str]()
_OUTCOME_KEY = pytest.StashKey[str]()
_REPORTS_KEY = pytest.StashKey[list[str]]()
_WORKEROUTPUT = "dataflow_worker_database"


def add_options(parser: pytest.Parser) -> None:
    """The command-line options of the worker databases."""
    group = parser.getgroup("dataflow")
    group.addoption(
        "--dataflow-reuse-db",
        action="store_true",
        default=False,
        help="Keep the per-worker databases (<name>_gwN; without xdist <name>_main) between runs; "
        "rebuild one when the models or migrations changed.",
    )
    group.addoption(
        "--dataflow-drop-db",
        action="store_true",
        default=False,
        help="Drop the per-worker databases (<name>_gwN, <name>_main, <name>_template) when the run ends.",
    )


def fingerprint(backend: Backend, models: Iterable[type], migrations: Path | None) -> str:
    """The schema fingerprint: the models' DDL on ``backend``, the migration files, the DataFlow version."""
    digest = hashlib.sha256(f"dataflow {__version__} {backend.name}\n".encode())
    specs = sorted((build_model_spec(model) for model in models), key=lambda spec: spec.name)
    for spec in specs:
        for sql in backend.editor.create_table_sql(model_table(spec)):
            digest.update(sql.encode() + b"\n")
    for path in _revision_files(migrations):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _revision_files(migrations: Path | None) -> list[Path]:
    if migrations is None or not migrations.is_dir():
        return []
    return sorted(p for p in migrations.glob("*.py") if p.name != "__init__.py")


def _name(url: DatabaseURL) -> str:
    """The database's name (a SQLite file's name without its directory)."""
    return Path(url.database).name


def _label(fp: str, run: str) -> str:
    return f"dataflow test database; schema {fp}; run {run}"


def _matches(note: str | None, fp: str, run: str | None) -> bool:
    """The label says ``fp`` (and, when ``run`` is given, that run)."""
    if not note or f"; schema {fp};" not in note:
        return False
    return run is None or note.endswith(f"; run {run}")


@contextlib.contextmanager
def _exclusive(admin: DatabaseURL, template: DatabaseURL) -> Iterator[None]:
    """One worker at a time builds the template and clones it (a file lock shared by the workers)."""
    key = hashlib.sha256(f"{admin.redacted} {template.database}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"dataflow-test-db-{key}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_template(template: DatabaseURL, models: list[type], migrations: Path | None) -> None:
    """Create the template's schema: the migrations up to the head when there are any, else the tables."""

    async def build() -> None:
        db = DataFlow(template.render(), test_mode=True, migrations_dir=migrations or "migrations")
        for model in models:
            db.model(model)
        try:
            if _revision_files(migrations):
                await db.migrations.upgrade()
            else:
                await db.create_tables()
        finally:
            await db.close()

    run_blocking(build)


def prepare_worker_database(
    url: DatabaseURL, worker: str, models: list[type], migrations: Path | None, *, reuse: bool, run: str
) -> tuple[DatabaseURL, str]:
    """Make ``worker``'s database from ``url`` (``DATABASE_URL``) ready; return it and what was done.

    The template is (re)built when its label lacks the current fingerprint (or, without ``reuse``,
    this ``run``); the worker database is reused when ``reuse`` and its label has the fingerprint,
    else cloned from the template. Workers of one run take turns (a file lock).
    """
    backend = backend_for(url)
    admin = url
    worker_db = backend.with_database_suffix(url, worker)
    template = backend.with_database_suffix(url, "template")
    databases = backend.test_databases
    fp = fingerprint(backend, models, migrations)
    with _exclusive(admin, template):
        if reuse and _matches(databases.note(worker_db, admin), fp, None):
            return worker_db, f"{_name(worker_db)}: reused (schema {fp} unchanged)"
        built = "kept"
        if not _matches(databases.note(template, admin), fp, None if reuse else run):
            backend.drop_database(template, admin)
            backend.ensure_database(template, admin)
            _build_template(template, models, migrations)
            databases.set_note(template, admin, _label(fp, run))
            built = "built"
        databases.clone(worker_db, template, admin)
        databases.set_note(worker_db, admin, _label(fp, run))
    return worker_db, f"{_name(worker_db)}: cloned from {_name(template)} ({built}, schema {fp})"


def worker_session_url(
    config: pytest.Config, env_url: str | None, tmp_dir: Path, models: list[type], migrations: Path | None
) -> str:
    """The session's database: under xdist with ``DATABASE_URL``, the worker's clone of the template
    (without xdist but with ``--dataflow-reuse-db``, the single process's ``<name>_main``); else what
    :func:`session_url` gives (``DATABASE_URL`` itself, or a SQLite file in ``tmp_dir``)."""
    reuse = bool(config.getoption("dataflow_reuse_db"))
    worker = run_worker(config.option)
    if not env_url or not worker or parse_url(env_url).is_memory:
        return session_url(env_url, tmp_dir)
    url, outcome = prepare_worker_database(
        parse_url(env_url), worker, models, migrations, reuse=reuse, run=config.stash[_RUN_KEY]
    )
    config.stash[_OUTCOME_KEY] = outcome
    return url.render()


class WorkerDatabases:
    """The plugin part: checks the options, reports what each worker did, drops at the end on request."""

    def __init__(self, config: pytest.Config) -> None:
        if config.getoption("dataflow_reuse_db") and config.getoption("dataflow_drop_db"):
            error = TestDatabaseOptionsError(
                "--dataflow-reuse-db and --dataflow-drop-db were both given.",
                context={"options": "--dataflow-reuse-db --dataflow-drop-db"},
            )
            raise pytest.UsageError(str(error)) from error
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        config.stash[_RUN_KEY] = str(workerinput["testrunuid"]) if workerinput else uuid.uuid4().hex
        config.stash[_REPORTS_KEY] = []
        self.config = config

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        outcome = self.config.stash.get(_OUTCOME_KEY, None)
        workeroutput: dict[str, Any] | None = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            if outcome:
                workeroutput[_WORKEROUTPUT] = outcome
            return
        if outcome:  # a run without xdist that kept its database
            self.config.stash[_REPORTS_KEY].append(outcome)
        env_url = os.environ.get("DATABASE_URL")
        if self.config.getoption("dataflow_drop_db") and env_url and not parse_url(env_url).is_memory:
            dropped = drop_test_databases(env_url)
            self.config.stash[_REPORTS_KEY].append(
                f"dropped {len(dropped)} test database(s)" + (": " + ", ".join(dropped) if dropped else "")
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        outcome = getattr(node, "workeroutput", {}).get(_WORKEROUTPUT)
        if outcome:
            self.config.stash[_REPORTS_KEY].append(outcome)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines: list[str] = self.config.stash[_REPORTS_KEY]
        for line in sorted(lines):
            terminalreporter.write_line(f"dataflow worker databases: {line}")
