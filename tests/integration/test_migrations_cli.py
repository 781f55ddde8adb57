"""``python -m dataflow.migrations`` and ``dataflow migrate``: the commands as subprocesses, on both
backends, with ``--json``, and mounted under another program's parser. Exit codes: 0 clean, 1
findings or failures, 2 bad usage."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

APP = """\
from dataflow import DataFlow, Field

db = DataFlow()


@db.model
class User:
    id: int
    name: str
    email: str = Field(unique=True)
"""


class Cli:
    def __init__(self, cwd: Path, database_url: str) -> None:
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DATAFLOW_APP"))}
        self.env["DATABASE_URL"] = database_url

    def __call__(self, *args: str, app: str | None = "app:db", env: dict[str, str] | None = None,
                 program: tuple[str, ...] = (sys.executable, "-m", "dataflow.migrations"),
                 ) -> subprocess.CompletedProcess[str]:
        command = [*program, *(["--app", app] if app else []), *args]
        return subprocess.run(command, cwd=self.cwd, env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=120, check=False)


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    (tmp_path / "app.py").write_text(APP)
    return Cli(tmp_path, database_url)


def test_the_workflow_from_generate_to_check(cli: Cli) -> None:
    result = cli("check")  # a fresh database and no migrations: the models ask for a table
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "The models and the migrations disagree; generate a revision for:",
        '  create_table("users", columns=["id", "name", "email"])',
    ]
    result = cli("generate", "-m", "create users")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Generated migrations/0001_create_users.py",
        '  create_table("users", columns=["id", "name", "email"])',
    ]
    result = cli("check")  # CI: nothing applied yet, and the migrations create what the models ask
    assert (result.returncode, result.stdout) == (0, "The models and the migrations agree.\n"), result.stderr
    assert cli("current").stdout == "base (no revision applied)\n"
    result = cli("up")
    assert (result.returncode, result.stdout) == (
        0, "Applied 0001_create_users\nThe database is at 0001_create_users.\n"
    ), result.stderr
    (cli.cwd / "app.py").write_text(APP + "    age: int = 0\n")
    assert cli("check").returncode == 1
    result = cli("generate", "-m", "add age")
    assert result.stdout.splitlines() == ["Generated migrations/0002_add_age.py",
                                          '  add_column("users", "age", "int", default=0)']
    assert cli("generate", "-m", "nothing").stdout == (
        "No changes: the models and the migrations agree; nothing was generated.\n"
    )
    assert cli("up").stdout == "Applied 0002_add_age\nThe database is at 0002_add_age.\n"
    assert cli("history").stdout == (
        "0001_create_users  [applied]  create users\n0002_add_age       [applied, head]  add age\n"
    )
    assert cli("down", "-1").stdout == "Rolled back 0002_add_age\nThe database is at 0001_create_users.\n"
    assert cli("down", "previous_version").stdout == (
        "Rolled back 0001_create_users\nThe database is at base (no revision applied).\n"
    )
    assert cli("up", "0001").stdout == "Applied 0001_create_users\nThe database is at 0001_create_users.\n"
    assert cli("down", "base").returncode == 0
    assert cli("current").stdout == "base (no revision applied)\n"


def test_failures_exit_1_and_bad_usage_exits_2(cli: Cli) -> None:
    assert cli("generate", "-m", "create users").returncode == 0
    assert cli("up").returncode == 0
    migration = cli.cwd / "migrations" / "0001_create_users.py"
    migration.write_text(migration.read_text().replace('"name", "str"', '"name", "str", nullable=True'))
    result = cli("up")
    assert result.returncode == 1 and result.stderr.startswith("DF-902: Applied migration file was edited")
    assert cli("check").returncode == 1
    result = cli("repair")
    assert (result.returncode, result.stdout) == (0, "Recorded the new checksum of 0001_create_users\n")
    assert cli("down", "base").returncode == 0
    result = cli("stamp")
    assert result.stdout.splitlines() == [
        "Recorded 0001_create_users as applied (nothing was run)", "The database is at 0001_create_users."
    ]
    result = cli("down", "0042")
    assert result.returncode == 2 and result.stderr.startswith("DF-903: Invalid migration target")
    result = cli("down")
    assert result.returncode == 2 and "the following arguments are required: TARGET" in result.stderr
    result = cli("generate")
    assert result.returncode == 2 and "-m/--message" in result.stderr
    result = cli("history", app=None)
    assert result.returncode == 2 and "name your DataFlow instance: --app myapp.models:db" in result.stderr
    result = cli("history", app="nowhere:db")
    assert result.returncode == 2 and "cannot import 'nowhere'" in result.stderr
    assert cli("history", app="app:User").returncode == 2
    assert "postgres@" not in result.stderr + result.stdout


def test_the_app_from_the_environment_or_pyproject(cli: Cli) -> None:
    assert cli("current", app=None, env={"DATAFLOW_APP": "app"}).stdout == "base (no revision applied)\n"
    (cli.cwd / "pyproject.toml").write_text('[tool.dataflow]\napp = "app:db"\n')
    assert cli("current", app=None).stdout == "base (no revision applied)\n"
    result = cli("--dir", "db/migrations", "generate", "-m", "first", app=None)
    assert result.stdout.startswith("Generated db/migrations/0001_first.py"), result.stderr


def test_the_commands_mount_under_another_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataflow.migrations import add_arguments, run

    (tmp_path / "mounted_app.py").write_text(APP.replace("DataFlow()", f"DataFlow('sqlite:///{tmp_path}/m.db')"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    parser = argparse.ArgumentParser(prog="dataflow")
    parser.add_argument("--app")  # the parent's own option of the same name
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate")
    add_arguments(migrate)
    migrate.set_defaults(handler=run)
    for argv in (["migrate", "--app", "mounted_app:db", "current"], ["--app", "mounted_app:db", "migrate", "current"]):
        sys.modules.pop("mounted_app", None)  # run() closes the app's instance, as a CLI process ends
        out = io.StringIO()
        args = parser.parse_args(argv)
        assert args.command == "migrate"
        assert args.handler(args, out=out) == 0
        assert out.getvalue() == "base (no revision applied)\n"


def test_dataflow_migrate_is_the_same_commands_with_json(cli: Cli) -> None:
    script = shutil.which("dataflow", path=str(Path(sys.executable).parent))
    assert script, "the dataflow console script is installed next to the interpreter"

    def migrate(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, program=(script, "migrate"))

    def as_json(*args: str) -> dict[str, object]:
        result = migrate(*args)
        assert result.stderr == "", result.stderr
        data: dict[str, object] = json.loads(result.stdout)
        assert data["status"] == result.returncode
        return data

    assert as_json("--json", "check") == {
        "command": "migrate check", "status": 1, "agree": False,
        "differences": ['create_table("users", columns=["id", "name", "email"])'],
    }
    assert as_json("generate", "-m", "create users", "--json") == {
        "command": "migrate generate", "status": 0, "generated": "migrations/0001_create_users.py",
        "revision": "0001_create_users", "operations": ['create_table("users", columns=["id", "name", "email"])'],
    }
    assert as_json("up", "--json") == {
        "command": "migrate up", "status": 0, "applied": ["0001_create_users"], "current": "0001_create_users",
    }
    assert as_json("--json", "history") == {"command": "migrate history", "status": 0, "revisions": [
        {"id": "0001_create_users", "message": "create users", "applied": True, "head": True},
    ]}
    assert as_json("current", "--json")["current"] == "0001_create_users"
    assert as_json("repair", "--json")["repaired"] == []
    assert as_json("down", "base", "--json") == {
        "command": "migrate down", "status": 0, "rolled_back": ["0001_create_users"], "current": None,
    }
    assert as_json("stamp", "--json")["stamped"] == ["0001_create_users"]
    assert migrate("up").stdout == "The database is at 0001_create_users.\n"  # text without --json
    result = migrate("down", "0042", "--json")  # errors stay text on stderr, exit 2 for a bad target
    assert (result.returncode, result.stdout) == (2, "") and result.stderr.startswith("DF-903")
    result = cli("history", app="nowhere:db", program=(script, "migrate"))
    assert result.returncode == 2 and result.stderr.startswith("dataflow migrate: error: cannot import")
