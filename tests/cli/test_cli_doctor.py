"""``dataflow doctor``: each problem in a small project made for it, found with its anchor.

Each project is run by the console script as a subprocess on both backends (DATABASE_URL set to a
fresh test database). Where doctor predicts how pytest fails, the same project is also run with
real pytest to show that it does fail that way, and the fixed project is checked clean.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _clihelp import child_env, dataflow_command, run, write_files

from dataflow._catalog import DOCS_BASE_URL as SITE_URL
from dataflow._catalog import docs_version
from dataflow.cli.doctor import ANCHORS

REPO = Path(__file__).resolve().parents[2]
#: The versioned docs root that links point into.
DOCS_BASE_URL = f"{SITE_URL}{docs_version()}/"
Cli = Callable[..., subprocess.CompletedProcess[str]]

AUTO_INI = """
    [pytest]
    asyncio_mode = auto
    asyncio_default_fixture_loop_scope = function
    asyncio_default_test_loop_scope = function
"""


def doctor_json(cli: Cli, project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    proc = cli("doctor", *args, "--json", cwd=project, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def findings(data: dict, check: str) -> list[dict]:
    return [f for f in data["findings"] if f["check"] == check]


def pytest_run(project: Path, database_url: str, *args: str) -> str:
    proc = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        project,
        child_env(database_url),
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stdout + proc.stderr


def test_anchors_exist_in_the_docs() -> None:
    def source(page: str) -> Path:  # "guide/debugging/" is docs/guide/debugging.md, "troubleshooting/" its index
        flat = REPO / "docs" / f"{page.rstrip('/')}.md"
        return flat if flat.is_file() else REPO / "docs" / page / "index.md"

    for check, anchor in ANCHORS.items():
        page, _, fragment = anchor.partition("#")
        text = source(page).read_text(encoding="utf-8")
        assert f"{{#{fragment}}}" in text, f"{check}: {anchor} has no {{#{fragment}}} section"


def test_examples_have_no_problems(cli: Cli) -> None:
    proc = cli("doctor", "examples", cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.endswith("No problems found.\n")
    assert "checked examples/pytest.ini, 1 conftest.py, 4 test modules" in proc.stdout


def test_a_missing_path_is_bad_usage(cli: Cli, tmp_path: Path) -> None:
    proc = cli("doctor", "no/such/dir", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no such file or directory" in proc.stderr


def test_session_fixture_on_function_loop(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI,
            "conftest.py": """
                import pytest

                from dataflow import DataFlow


                @pytest.fixture(scope="session")
                async def shared_db():
                    db = DataFlow()
                    yield db
                    await db.close()
            """,
            "test_shared.py": """
                async def test_dialect(shared_db):
                    assert shared_db.dialect == "sqlite"


                def test_sync():
                    pass
            """,
        },
    )
    status, data = doctor_json(cli, project)
    assert status == 1
    (finding,) = findings(data, "loop-scope")
    assert (finding["path"], finding["line"]) == ("conftest.py", 7)
    assert "scope=\"session\"" in finding["message"] and "function-scoped event loop" in finding["message"]
    assert "asyncio_default_fixture_loop_scope = function in pytest.ini" in finding["message"]
    assert finding["details"] == ["used by: test_shared.py::test_dialect"]
    assert finding["url"] == DOCS_BASE_URL + "troubleshooting/#scopemismatch"
    assert "ScopeMismatch" in pytest_run(project, test_db_url)

    write_files(
        project,
        {
            "conftest.py": """
                import pytest_asyncio

                from dataflow import DataFlow


                @pytest_asyncio.fixture(scope="session", loop_scope="session")
                async def shared_db():
                    db = DataFlow()
                    yield db
                    await db.close()
            """,
            "test_shared.py": """
                import pytest

                pytestmark = pytest.mark.asyncio(loop_scope="session")


                async def test_dialect(shared_db):
                    assert shared_db.dialect == "sqlite"
            """,
        },
    )
    status, data = doctor_json(cli, project)
    assert (status, data["findings"]) == (0, [])


def test_test_on_a_narrower_loop_than_its_fixture(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI,
            "conftest.py": """
                import pytest
                import pytest_asyncio

                pytest_plugins = ["dataflow.testing"]


                class Task:
                    id: int
                    title: str


                @pytest.fixture(scope="session")
                def dataflow_models():
                    return [Task]


                @pytest_asyncio.fixture(scope="session", loop_scope="session")
                async def db(dataflow_db_session):
                    async with dataflow_db_session.isolated():
                        yield dataflow_db_session
            """,
            "test_tasks.py": """
                from dataflow import AsyncLocalRuntime, WorkflowBuilder


                async def test_add_task(db):
                    workflow = WorkflowBuilder()
                    workflow.add_node("TaskCreateNode", "add", {"title": "write docs"})
                    await AsyncLocalRuntime().execute_workflow_async(workflow.build())
            """,
        },
    )
    status, data = doctor_json(cli, project)
    assert status == 1
    (finding,) = data["findings"]
    assert finding["check"] == "test-loop"
    assert (finding["path"], finding["line"]) == ("test_tasks.py", 4)
    assert "fixture 'db' (conftest.py:18) runs on the session event loop" in finding["message"]
    assert "1 test that uses it runs on function loops" in finding["message"]
    assert finding["details"] == ["test: test_tasks.py::test_add_task"]
    assert finding["url"].endswith("troubleshooting/#attached-to-a-different-loop")
    assert "DF-506" in pytest_run(project, test_db_url)

    (project / "test_tasks.py").write_text(
        'import pytest\n\npytestmark = pytest.mark.asyncio(loop_scope="session")\n\n'
        + (project / "test_tasks.py").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    status, data = doctor_json(cli, project)
    assert (status, data["findings"]) == (0, [])


def test_plugin_fixtures_on_a_narrower_loop(cli: Cli, tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI,
            "conftest.py": 'pytest_plugins = ["dataflow.testing"]\n',
            "test_pages.py": """
                import pytest


                async def test_home(dataflow_db_module):
                    pass


                @pytest.mark.asyncio(loop_scope="module")
                async def test_about(dataflow_db_module):
                    pass


                class TestAdmin:
                    async def test_users(self, dataflow_db_session):
                        pass
            """,
        },
    )
    _, data = doctor_json(cli, project)
    messages = {f["details"][0]: f["message"] for f in findings(data, "test-loop")}
    assert set(messages) == {"test: test_pages.py::test_home", "test: test_pages.py::TestAdmin::test_users"}
    assert "fixture 'dataflow_db_module' (dataflow.testing) runs on the module event loop" in messages[
        "test: test_pages.py::test_home"
    ]


def test_leftover_event_loop_fixture(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI,
            "conftest.py": """
                import asyncio

                import pytest


                @pytest.fixture(scope="session")
                def event_loop():
                    loop = asyncio.new_event_loop()
                    yield loop
                    loop.close()
            """,
            "test_legacy.py": """
                def test_legacy(event_loop):
                    assert event_loop.run_until_complete(answer()) == 42


                async def answer():
                    return 42
            """,
        },
    )
    status, data = doctor_json(cli, project)
    assert status == 1
    (finding,) = data["findings"]
    assert (finding["check"], finding["path"], finding["line"]) == ("event-loop", "conftest.py", 7)
    assert finding["details"] == ["requested by: test_legacy.py::test_legacy"]
    assert finding["url"].endswith("troubleshooting/#leftover-event-loop-fixture")

    (project / "conftest.py").unlink()
    status, data = doctor_json(cli, project)
    (finding,) = data["findings"]
    assert (finding["check"], finding["path"], finding["line"]) == ("event-loop", "test_legacy.py", 1)
    assert "test_legacy.py::test_legacy requests the 'event_loop' fixture" in finding["message"]
    assert finding["url"].endswith("troubleshooting/#fixture-event-loop-not-found")
    assert "fixture 'event_loop' not found" in pytest_run(project, test_db_url)


def test_strict_mode_with_unmarked_async_tests(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": """
                [pytest]
                asyncio_default_fixture_loop_scope = function
            """,
            "conftest.py": """
                import pytest


                @pytest.fixture
                async def answer():
                    return 42
            """,
            "test_async.py": """
                import pytest


                async def test_unmarked():
                    assert True


                @pytest.mark.asyncio
                async def test_marked():
                    assert True


                @pytest.mark.anyio
                async def test_anyio():
                    assert True
            """,
        },
    )
    status, data = doctor_json(cli, project)
    assert status == 1
    (finding,) = data["findings"]
    assert (finding["check"], finding["path"], finding["line"]) == ("asyncio-mode", "pytest.ini", None)
    assert "strict mode (asyncio_mode is not set)" in finding["message"]
    assert finding["details"] == ["test: test_async.py::test_unmarked", "fixture: answer (conftest.py:5)"]
    assert finding["url"].endswith("troubleshooting/#async-def-functions-are-not-natively-supported")
    assert "async def functions are not natively supported" in pytest_run(project, test_db_url, "-k", "unmarked")

    write_files(project, {"pytest.ini": AUTO_INI})
    status, data = doctor_json(cli, project)
    assert (status, data["findings"]) == (0, [])


def test_dataflow_created_at_import_time(cli: Cli, tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI,
            "conftest.py": """
                import os

                import dataflow as df

                if os.environ.get("DATABASE_URL"):
                    shared = df.DataFlow(os.environ["DATABASE_URL"])
            """,
            "test_events.py": """
                from dataflow import DataFlow as DF


                db = DF()


                def make():
                    return DF()  # inside a function: created when called, not at import


                class TestEvents:
                    other = DF()

                    def test_it(self):
                        assert make() is not db
            """,
        },
    )
    status, data = doctor_json(cli, project)
    assert status == 1
    found = [(f["path"], f["line"]) for f in findings(data, "import-time-dataflow")]
    assert found == [("conftest.py", 6), ("test_events.py", 4), ("test_events.py", 12)]
    assert all(f["url"].endswith("#dataflow-created-at-import-time") for f in data["findings"])


def fake_distribution(root: Path, name: str, version: str) -> None:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("asyncio_version", "xdist_version"), [("0.21.1", "2.5.0"), ("2.0.0a1", "4.0.0")], ids=["old", "new"]
)
def test_unsupported_plugin_versions(
    cli: Cli, tmp_path: Path, test_db_url: str, asyncio_version: str, xdist_version: str
) -> None:
    project = write_files(
        tmp_path / "p", {"pytest.ini": AUTO_INI, "test_one.py": "async def test_one():\n    pass\n"}
    )
    _, data = doctor_json(cli, project)
    assert findings(data, "versions") == []  # this environment's versions are supported

    fakes = tmp_path / "fakes"
    fake_distribution(fakes, "pytest-asyncio", asyncio_version)
    fake_distribution(fakes, "pytest-xdist", xdist_version)
    status, data = doctor_json(cli, project, env=child_env(test_db_url, PYTHONPATH=str(fakes)))
    assert status == 1
    messages = [f["message"] for f in findings(data, "versions")]
    assert len(messages) == 2
    assert messages[0].startswith(f"pytest-asyncio {asyncio_version} is installed")
    assert "the guide supports 1.0 or later, below 2.0" in messages[0]
    assert messages[1].startswith(f"pytest-xdist {xdist_version} is installed")
    assert all(f["path"] is None and f["url"].endswith("#unsupported-versions") for f in findings(data, "versions"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_database_url_unreachable_and_not_a_test_database(cli: Cli, tmp_path: Path) -> None:
    project = write_files(tmp_path / "p", {"pytest.ini": AUTO_INI})
    port = free_port()
    url = f"postgresql://shop:Hunter2-s3cret@127.0.0.1:{port}/shop"
    for args, env in (((), child_env(url)), (("--database-url", url), child_env(None))):
        proc = cli("doctor", *args, cwd=project, env=env)
        assert proc.returncode == 1
        assert "Hunter2-s3cret" not in proc.stdout + proc.stderr
        assert f"database: postgresql://shop:***@127.0.0.1:{port}/shop" in proc.stdout
        assert f"points at 127.0.0.1:{port}, where nothing accepts connections" in proc.stdout
        assert "names the database 'shop', which does not look like a test database" in proc.stdout
        assert "see: " + DOCS_BASE_URL + "troubleshooting/#connection-refused" in proc.stdout
        assert "see: " + DOCS_BASE_URL + "troubleshooting/#not-a-test-database" in proc.stdout

    proc = cli("doctor", "--database-url", "mysql://root:Hunter2-s3cret@db/shop_test", cwd=project)
    assert proc.returncode == 1
    assert "Hunter2-s3cret" not in proc.stdout
    assert "is not a URL DataFlow accepts: Unsupported database URL scheme 'mysql'" in proc.stdout
    assert "see: " + DOCS_BASE_URL + "troubleshooting/errors/#df-801" in proc.stdout


def test_reachable_test_database_is_fine(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    project = write_files(tmp_path / "p", {"pytest.ini": AUTO_INI})
    proc = cli("doctor", cwd=project)
    assert proc.returncode == 0, proc.stdout
    shown = re.search(r"^database: (.*)$", proc.stdout, flags=re.MULTILINE)
    assert shown and ":***@" not in test_db_url and shown.group(1).endswith(test_db_url.rsplit("/", 1)[1])


def test_plugin_not_enabled(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI,
            "tests/test_users.py": """
                async def test_count(dataflow_db):
                    assert dataflow_db


                async def test_url(dataflow_url):
                    assert dataflow_url
            """,
        },
    )
    status, data = doctor_json(cli, project)
    assert status == 1
    (finding,) = data["findings"]
    assert (finding["check"], finding["path"], finding["line"]) == ("plugin", "tests/test_users.py", 1)
    assert "fixture 'dataflow_db' not found" in finding["message"]
    assert finding["details"] == [
        "requested by: tests/test_users.py::test_count (dataflow_db)",
        "requested by: tests/test_users.py::test_url (dataflow_url)",
    ]
    assert 'add pytest_plugins = ["dataflow.testing"] to conftest.py' in finding["fix"]
    assert finding["url"].endswith("troubleshooting/#fixture-dataflow-db-not-found")
    assert "fixture 'dataflow_db' not found" in pytest_run(project, test_db_url)

    write_files(project, {"tests/deeper/conftest.py": 'pytest_plugins = ["dataflow.testing"]\n'})
    _, data = doctor_json(cli, project)
    (finding,) = data["findings"]
    assert (finding["check"], finding["path"], finding["line"]) == ("plugin", "tests/deeper/conftest.py", 1)
    assert "non-top-level conftest" in finding["message"]
    assert "non-top-level conftest" in pytest_run(project, test_db_url)

    (project / "tests/deeper/conftest.py").unlink()
    write_files(project, {"tests/conftest.py": 'pytest_plugins = ["dataflow.testing"]\n'})
    status, data = doctor_json(cli, project)
    assert (status, data["findings"]) == (0, [])


def test_plugin_enabled_in_addopts_or_overridden_fixture(cli: Cli, tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI + "    addopts = -p dataflow.testing\n",
            "test_users.py": "async def test_count(dataflow_db):\n    assert dataflow_db\n",
        },
    )
    status, data = doctor_json(cli, project)
    assert (status, data["findings"]) == (0, [])
    write_files(
        project,
        {
            "pytest.ini": AUTO_INI,
            "conftest.py": "import pytest\n\n\n@pytest.fixture\ndef dataflow_db():\n    return object()\n",
        },
    )
    status, data = doctor_json(cli, project)
    assert (status, data["findings"]) == (0, [])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "pyproject.toml",
            '[tool.pytest.ini_options]\nasyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n',
        ),
        ("setup.cfg", "[tool:pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"),
        ("tox.ini", "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"),
        ("pytest.ini", "[pytest]\naddopts = --asyncio-mode=auto -o asyncio_default_fixture_loop_scope=function\n"),
    ],
)
def test_every_config_file_is_read(cli: Cli, tmp_path: Path, name: str, content: str) -> None:
    project = write_files(
        tmp_path / "p",
        {
            name: content,
            "tests/test_one.py": """
                import pytest


                @pytest.fixture(scope="module")
                async def shared():
                    return 1


                async def test_one(shared):
                    pass
            """,
        },
    )
    status, data = doctor_json(cli, project, "tests")  # the configuration is found upwards
    assert status == 1
    assert data["config"] == name
    (finding,) = data["findings"]  # auto mode was read: no asyncio-mode finding
    assert finding["check"] == "loop-scope"
    assert f"asyncio_default_fixture_loop_scope = function in {name}" in finding["message"]


def test_unparseable_file(cli: Cli, tmp_path: Path) -> None:
    project = write_files(tmp_path / "p", {"pytest.ini": AUTO_INI, "test_broken.py": "def test_x(:\n    pass\n"})
    status, data = doctor_json(cli, project)
    assert status == 1
    (finding,) = data["findings"]
    assert (finding["check"], finding["path"]) == ("parse", "test_broken.py")
    assert "SyntaxError" in finding["message"]


def test_import_finds_helpers_and_import_errors(cli: Cli, tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "pytest.ini": AUTO_INI,
            "helpers.py": "from dataflow import DataFlow\n\n\ndef make_db():\n    return DataFlow()\n",
            "conftest.py": "from helpers import make_db\n\ndb = make_db()\n",
            "test_ok.py": "def test_ok():\n    pass\n",
            "test_broken.py": "import no_such_module_anywhere\n\n\ndef test_x():\n    pass\n",
        },
    )
    status, data = doctor_json(cli, project)
    assert (status, data["findings"]) == (0, [])  # nothing to see without importing

    status, data = doctor_json(cli, project, "--import")
    assert status == 1
    by_check = {f["check"]: f for f in data["findings"]}
    assert set(by_check) == {"import", "import-time-dataflow"}
    assert by_check["import"]["path"] == "test_broken.py"
    assert "No module named 'no_such_module_anywhere'" in by_check["import"]["message"]
    assert by_check["import-time-dataflow"]["path"] == "conftest.py"
    assert "(db)" in by_check["import-time-dataflow"]["message"]


def test_text_output_names_location_fix_and_link(cli: Cli, tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "p",
        {"pytest.ini": AUTO_INI, "test_a.py": "def test_a(event_loop):\n    pass\n"},
    )
    proc = cli("doctor", cwd=project)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "dataflow doctor: checked pytest.ini, 0 conftest.py files, 1 test module in ."
    assert "test_a.py:1: [event-loop] test_a.py::test_a requests the 'event_loop' fixture" in proc.stdout
    assert "    fix: make it async def" in proc.stdout
    assert f"    see: {DOCS_BASE_URL}troubleshooting/#fixture-event-loop-not-found" in lines
    assert lines[-1] == "1 problem found."


def test_docs_url_follows_dataflow_docs_url(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    project = write_files(tmp_path / "p", {"test_a.py": "def test_a(event_loop):\n    pass\n"})
    proc = cli("doctor", cwd=project, env=child_env(test_db_url, DATAFLOW_DOCS_URL="http://127.0.0.1:8000/df"))
    expected = f"see: http://127.0.0.1:8000/df/{docs_version()}/troubleshooting/#fixture-event-loop-not-found"
    assert expected in proc.stdout


def test_console_script_without_database_url(tmp_path: Path) -> None:
    project = write_files(tmp_path / "p", {"pytest.ini": AUTO_INI})
    proc = run([dataflow_command(), "doctor"], project, child_env(None))
    assert proc.returncode == 0, proc.stdout
    assert "database:" not in proc.stdout
