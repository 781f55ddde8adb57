"""``dataflow init``: start a project whose tests run on SQLite straight away.

It writes four files, the setup the testing guide recommends:

* ``pytest.ini``: pytest-asyncio 1.x in auto mode, a function-scoped event loop for every test and
  every async fixture;
* ``conftest.py``: enables the ``dataflow.testing`` plugin and hands it the models;
* ``models.py``: one model, ``User``;
* ``test_users.py``: one test that creates a user and reads it back through ``dataflow_db``.

```console
$ dataflow init my-project
$ cd my-project && python -m pytest
```

Without ``DATABASE_URL`` the test runs on a SQLite file per test; with ``DATABASE_URL`` pointing at
PostgreSQL it runs there. Existing files are never overwritten unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ._common import EXIT_OK, UsageError, add_command, emit

__all__ = ["NAME", "TEMPLATE_FILES", "register", "template", "write_project"]

#: The files ``dataflow init`` writes, in order.
TEMPLATE_FILES = ("pytest.ini", "conftest.py", "models.py", "test_users.py")


def template(name: str) -> str:
    """The content ``dataflow init`` writes to ``name`` (one of :data:`TEMPLATE_FILES`)."""
    source = name if name.endswith(".ini") else name + ".tmpl"
    return (resources.files("dataflow.cli") / "project_template" / source).read_text(encoding="utf-8")


def write_project(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the project files into ``directory`` (created if needed) and return their paths.

    Raises:
        UsageError: A file exists already and ``force`` is false, or ``directory`` is a file.
    """
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    targets = [directory / name for name in TEMPLATE_FILES]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        names = ", ".join(p.name for p in existing)
        raise UsageError(f"{directory} already has {names}; nothing was written (use --force to overwrite)")
    directory.mkdir(parents=True, exist_ok=True)
    for path in targets:
        path.write_text(template(path.name), encoding="utf-8")
    return targets


def _run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    written = write_project(directory, force=args.force)
    where = args.directory
    lines = [f"Created a DataFlow test project in {where}:"]
    lines += [f"  {p.name}" for p in written]
    lines += [
        "",
        "Run its test on SQLite:",
        f"  cd {where} && python -m pytest" if where != "." else "  python -m pytest",
        "Check the setup at any time with: dataflow doctor",
    ]
    data = {"command": "init", "directory": where, "files": [p.name for p in written]}
    emit(args, "\n".join(lines), data)
    return EXIT_OK


#: The command's name on the command line.
NAME = "init"

_DESCRIPTION = """Create a new test project that runs on SQLite straight away: pytest.ini (pytest-asyncio 1.x,
auto mode, function-scoped loops), conftest.py (the dataflow.testing plugin and the models),
models.py and test_users.py with one passing test."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow init`` to the command line."""
    parser = add_command(
        commands,
        NAME,
        help="create a new test project (pytest.ini, conftest.py, a model and one passing test)",
        description=_DESCRIPTION
        + "\n\nWrites pytest.ini, conftest.py, models.py and test_users.py.\n"
        "Exit status: 0 written, 2 bad usage (files exist without --force).",
        run=_run,
    )
    parser.add_argument("directory", nargs="?", default=".", help="where to create the project (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist already")
