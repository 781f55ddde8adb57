"""The ``migrate`` commands: ``generate``, ``up``, ``down``, ``history``, ``current``, ``check``
(and ``repair``, which accepts edits of applied revision files, and ``stamp``, which records
revisions as applied on a database that already has their schema).

They work on the DataFlow instance of your application, named with ``--app module:name`` (or the
``DATAFLOW_APP`` environment variable, or ``app = "module:name"`` under ``[tool.dataflow]`` in
``pyproject.toml``); its URL and models are used as they are. Exit codes: 0 success, 1 a failure
or, for ``check``, differences between the models and the migrations, 2 bad usage (including a
migration target that does not exist).

To mount the commands under another program::

    migrate = subcommands.add_parser("migrate", help="database migrations")
    add_arguments(migrate)
    migrate.set_defaults(handler=run)      # later: sys.exit(args.handler(args))

Every value is stored under a ``migrate_`` name, so the parent's options do not collide.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .._dataflow import DataFlow
from .._errors import DataFlowError, InvalidMigrationTargetError
from .._migrations import Migrations

__all__ = ["add_arguments", "main", "run"]

PROG = "python -m dataflow.migrations"


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the global options and the commands to ``parser``.

    Every value lands in an attribute that starts with ``migrate_``, so a parent program's own
    options (its ``--app``, its ``command``) never collide with these; a parent ``--app`` is used
    when this one is not given.
    """
    parser.add_argument("--app", dest="migrate_app", metavar="MODULE:NAME",
                        help="the DataFlow instance (default: $DATAFLOW_APP or [tool.dataflow] app in pyproject.toml)")
    parser.add_argument("--dir", dest="migrate_dir", metavar="PATH",
                        help="the migrations folder (default: the instance's migrations_dir)")
    commands = parser.add_subparsers(dest="migrate_command", metavar="COMMAND", required=True)
    generate = commands.add_parser("generate", help="write the next revision from the models")
    generate.add_argument("-m", "--message", dest="migrate_message", metavar="MESSAGE", required=True,
                          help="what the revision does")
    generate.add_argument("--empty", dest="migrate_empty", action="store_true",
                          help="write a revision without operations")
    up = commands.add_parser("up", help="apply revisions (default: up to the head)")
    up.add_argument("migrate_target", metavar="TARGET", nargs="?", default=None, help="a revision id, 'head' or +n")
    down = commands.add_parser("down", help="roll back to a revision")
    down.add_argument("migrate_target", metavar="TARGET",
                      help="a revision id (it stays applied), 'base', 'previous_version' or -n")
    commands.add_parser("history", help="list the revisions and which are applied")
    commands.add_parser("current", help="print the revision the database is at")
    commands.add_parser("check", help="exit 1 when the models and the migrations disagree")
    commands.add_parser("repair", help="accept the edits of applied revision files (their new checksums)")
    stamp = commands.add_parser("stamp", help="record revisions as applied without running them")
    stamp.add_argument("migrate_target", metavar="TARGET", nargs="?", default=None,
                       help="a revision id (default: the head)")


def _app_spec(args: argparse.Namespace) -> str:
    given = getattr(args, "migrate_app", None) or getattr(args, "app", None)
    if given:
        return str(given)
    if os.environ.get("DATAFLOW_APP"):
        return os.environ["DATAFLOW_APP"]
    pyproject = Path.cwd() / "pyproject.toml"
    if pyproject.is_file():
        config = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("dataflow", {})
        if isinstance(config.get("app"), str):
            return str(config["app"])
    raise UsageError(
        "name your DataFlow instance: --app myapp.models:db, DATAFLOW_APP=myapp.models:db, or "
        'app = "myapp.models:db" under [tool.dataflow] in pyproject.toml'
    )


def load_app(spec: str) -> DataFlow:
    """Import ``module[:name]`` (from the working directory) and return its DataFlow instance."""
    module_name, _, attribute = spec.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r} from {Path.cwd()}: {exc}") from exc
    if attribute:
        found = getattr(module, attribute, None)
        if not isinstance(found, DataFlow):
            raise UsageError(f"{spec}: {module_name}.{attribute} is not a DataFlow instance")
        return found
    instances = [value for value in vars(module).values() if isinstance(value, DataFlow)]
    if len(instances) != 1:
        raise UsageError(f"{module_name} has {len(instances)} DataFlow instances; name one: {module_name}:NAME")
    return instances[0]


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


async def _command(args: argparse.Namespace, migrations: Migrations, out: TextIO) -> int:
    command = args.migrate_command
    if command == "generate":
        path = await migrations.generate(args.migrate_message, empty=args.migrate_empty)
        if path is None:
            print("No changes: the models and the migrations agree; nothing was generated.", file=out)
            return 0
        print(f"Generated {_shown(path)}", file=out)
        revision = next(r for r in migrations.load().revisions.values() if r.path == path)
        for op in revision.upgrade:
            print(f"  {op.describe()}", file=out)
        return 0
    if command in ("up", "down"):
        target = args.migrate_target
        done = await (migrations.upgrade(target) if command == "up" else migrations.downgrade(target))
        verb = "Applied" if command == "up" else "Rolled back"
        for revision_id in done:
            print(f"{verb} {revision_id}", file=out)
        current = await migrations.current()
        print(f"The database is at {current or 'base (no revision applied)'}.", file=out)
        return 0
    if command == "history":
        statuses = await migrations.history()
        if not statuses:
            print(f"No revisions in {_shown(migrations.directory)}.", file=out)
        width = max((len(s.id) for s in statuses), default=0)
        for status in statuses:
            marks = ("applied" if status.applied else "pending") + (", head" if status.head else "")
            print(f"{status.id:<{width}}  [{marks}]  {status.message}", file=out)
        return 0
    if command == "stamp":
        for revision_id in await migrations.stamp(args.migrate_target):
            print(f"Recorded {revision_id} as applied (nothing was run)", file=out)
        print(f"The database is at {await migrations.current() or 'base (no revision applied)'}.", file=out)
        return 0
    if command == "repair":
        repaired = await migrations.repair()
        for revision_id in repaired:
            print(f"Recorded the new checksum of {revision_id}", file=out)
        if not repaired:
            print("Every applied revision file is unchanged.", file=out)
        return 0
    if command == "current":
        print(await migrations.current() or "base (no revision applied)", file=out)
        return 0
    plan = await migrations.check()
    if not plan:
        print("The models and the migrations agree.", file=out)
        return 0
    print("The models and the migrations disagree; generate a revision for:", file=out)
    for line in plan.describe():
        print(f"  {line}", file=out)
    return 1


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command parsed into ``args``; return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        db = load_app(_app_spec(args))
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 2
    migrations = db.migrations.at(args.migrate_dir) if args.migrate_dir else db.migrations

    async def main() -> int:
        try:
            return await _command(args, migrations, out)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except InvalidMigrationTargetError as exc:
        print(str(exc), file=err)
        return 2
    except DataFlowError as exc:
        print(str(exc), file=err)
        return 1
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dataflow.migrations``: parse ``argv`` and run the command."""
    parser = argparse.ArgumentParser(prog=PROG, description="DataFlow migrations: generate, apply, roll back, check.")
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 for --help
        return int(exc.code or 0)
    return run(args)
