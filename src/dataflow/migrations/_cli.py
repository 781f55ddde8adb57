"""The ``migrate`` commands: ``generate``, ``up``, ``down``, ``history``, ``current``, ``check``
(and ``repair``, which accepts edits of applied revision files, and ``stamp``, which records
revisions as applied on a database that already has their schema).

They work on the DataFlow instance of your application, named with ``--app module:name`` (or the
``DATAFLOW_APP`` environment variable, or ``app = "module:name"`` under ``[tool.dataflow]`` in
``pyproject.toml``); its URL and models are used as they are. Exit codes: 0 success, 1 a failure
or, for ``check``, differences between the models and the migrations, 2 bad usage (including a
migration target that does not exist).

The same commands are ``dataflow migrate ...`` in the ``dataflow`` command line. To mount them
under another program::

    migrate = subcommands.add_parser("migrate", help="database migrations")
    add_arguments(migrate)
    migrate.set_defaults(handler=run)      # later: sys.exit(args.handler(args))

Every value is stored under a ``migrate_`` name, so the parent's options do not collide.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .._dataflow import DataFlow
from .._errors import DataFlowError, InvalidMigrationTargetError
from .._migrations import Migrations

__all__ = ["DESCRIPTION", "add_arguments", "main", "run"]

PROG = "python -m dataflow.migrations"


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


#: The description of the ``migrate`` parser (``--help``), wherever it is mounted.
DESCRIPTION = """Generate, apply, roll back and check migrations of your application's DataFlow instance.

Exit status: 0 success, 1 a failure or (check) models and migrations that disagree,
2 bad usage, including a migration target that does not exist."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the global options and the commands to ``parser``.

    Every value lands in an attribute that starts with ``migrate_``, so a parent program's own
    options (its ``--app``, its ``command``) never collide with these; a parent ``--app`` is used
    when this one is not given. ``--json`` is accepted before or after the command.
    """
    parser.add_argument(
        "--app",
        dest="migrate_app",
        metavar="MODULE:NAME",
        help="the DataFlow instance (default: $DATAFLOW_APP or [tool.dataflow] app in pyproject.toml)",
    )
    parser.add_argument(
        "--dir",
        dest="migrate_dir",
        metavar="PATH",
        help="the migrations folder (default: the instance's migrations_dir)",
    )
    parser.add_argument("--json", dest="migrate_json", action="store_true", help=_JSON_HELP)
    commands = parser.add_subparsers(dest="migrate_command", metavar="COMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.")
        # SUPPRESS: without --json here, the value given before the command stays.
        sub.add_argument("--json", dest="migrate_json", action="store_true", default=argparse.SUPPRESS, help=_JSON_HELP)
        return sub

    generate = command("generate", "write the next revision from the models")
    generate.add_argument(
        "-m", "--message", dest="migrate_message", metavar="MESSAGE", required=True, help="what the revision does"
    )
    generate.add_argument(
        "--empty", dest="migrate_empty", action="store_true", help="write a revision without operations"
    )
    up = command("up", "apply revisions (default: up to the head)")
    up.add_argument("migrate_target", metavar="TARGET", nargs="?", default=None, help="a revision id, 'head' or +n")
    down = command("down", "roll back to a revision")
    down.add_argument(
        "migrate_target", metavar="TARGET", help="a revision id (it stays applied), 'base', 'previous_version' or -n"
    )
    command("history", "list the revisions and which are applied")
    command("current", "print the revision the database is at")
    command("check", "exit 1 when the models and the migrations disagree")
    command("repair", "accept the edits of applied revision files (their new checksums)")
    stamp = command("stamp", "record revisions as applied without running them")
    stamp.add_argument(
        "migrate_target", metavar="TARGET", nargs="?", default=None, help="a revision id (default: the head)"
    )


_JSON_HELP = "print the result as one JSON object (for scripts and CI)"


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


@dataclass
class _Outcome:
    """What a command did: its exit code, its lines for people and its data for ``--json``."""

    status: int
    lines: list[str]
    data: dict[str, Any]


def _at(current: str | None) -> str:
    return f"The database is at {current or 'base (no revision applied)'}."


async def _command(args: argparse.Namespace, migrations: Migrations) -> _Outcome:
    command = args.migrate_command
    if command == "generate":
        path = await migrations.generate(args.migrate_message, empty=args.migrate_empty)
        if path is None:
            return _Outcome(
                0,
                ["No changes: the models and the migrations agree; nothing was generated."],
                {"generated": None, "operations": []},
            )
        revision = next(r for r in migrations.load().revisions.values() if r.path == path)
        operations = [op.describe() for op in revision.upgrade]
        return _Outcome(
            0,
            [f"Generated {_shown(path)}", *(f"  {op}" for op in operations)],
            {"generated": _shown(path), "revision": revision.id, "operations": operations},
        )
    if command in ("up", "down"):
        target = args.migrate_target
        done = await (migrations.upgrade(target) if command == "up" else migrations.downgrade(target))
        verb = "Applied" if command == "up" else "Rolled back"
        current = await migrations.current()
        key = "applied" if command == "up" else "rolled_back"
        return _Outcome(
            0, [*(f"{verb} {revision_id}" for revision_id in done), _at(current)], {key: done, "current": current}
        )
    if command == "history":
        statuses = await migrations.history()
        lines = [] if statuses else [f"No revisions in {_shown(migrations.directory)}."]
        width = max((len(s.id) for s in statuses), default=0)
        for status in statuses:
            marks = ("applied" if status.applied else "pending") + (", head" if status.head else "")
            lines.append(f"{status.id:<{width}}  [{marks}]  {status.message}")
        revisions = [
            {"id": s.id, "message": s.message, "applied": s.applied, "head": s.head} for s in statuses
        ]
        return _Outcome(0, lines, {"revisions": revisions})
    if command == "stamp":
        stamped = await migrations.stamp(args.migrate_target)
        current = await migrations.current()
        lines = [f"Recorded {revision_id} as applied (nothing was run)" for revision_id in stamped]
        return _Outcome(0, [*lines, _at(current)], {"stamped": stamped, "current": current})
    if command == "repair":
        repaired = await migrations.repair()
        lines = [f"Recorded the new checksum of {revision_id}" for revision_id in repaired]
        return _Outcome(0, lines or ["Every applied revision file is unchanged."], {"repaired": repaired})
    if command == "current":
        current = await migrations.current()
        return _Outcome(0, [current or "base (no revision applied)"], {"current": current})
    differences = (await migrations.check()).describe()
    if not differences:
        return _Outcome(0, ["The models and the migrations agree."], {"agree": True, "differences": []})
    lines = ["The models and the migrations disagree; generate a revision for:", *(f"  {d}" for d in differences)]
    return _Outcome(1, lines, {"agree": False, "differences": differences})


def run(
    args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None, prog: str = PROG
) -> int:
    """Run the command parsed into ``args``; return the exit code.

    With ``--json`` the result is one JSON object on ``out`` (``command``, ``status`` and the
    command's data); errors go to ``err`` as text either way.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        db = load_app(_app_spec(args))
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=err)
        return 2
    migrations = db.migrations.at(args.migrate_dir) if args.migrate_dir else db.migrations

    async def main() -> _Outcome:
        try:
            return await _command(args, migrations)
        finally:
            await db.close()

    try:
        outcome = asyncio.run(main())
    except InvalidMigrationTargetError as exc:
        print(str(exc), file=err)
        return 2
    except DataFlowError as exc:
        print(str(exc), file=err)
        return 1
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=err)
        return 2
    if getattr(args, "migrate_json", False):
        data = {"command": f"migrate {args.migrate_command}", "status": outcome.status, **outcome.data}
        json.dump(data, out, indent=2)
        out.write("\n")
    else:
        for line in outcome.lines:
            print(line, file=out)
    return outcome.status


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dataflow.migrations``: parse ``argv`` and run the command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 for --help
        return int(exc.code or 0)
    return run(args)
