"""The home page's "Quick start in 30 seconds", done the way a new user does it.

Starting from ``docs/index.md`` alone: a fresh virtualenv (Python 3.11, the interpreter running this
suite), the page's install commands run as written in bash, the page's project files (``pytest.ini``,
``conftest.py``, ``test_*.py``) written from the page's blocks as extracted by the doc harness (never
retyped here), then the page's run commands: the SQLite tab without ``DATABASE_URL``, the PostgreSQL
tab with its URL pointed at a fresh database. Each run must be green (no failure, error, skip or
warning) with as many passed tests as the page's test files define.

One substitution, because the test cannot reach GitHub: the page's ``git clone <repository>`` is
replaced by a symlink named like the clone (``dataflow``) to this checkout, so the page's
``python -m pip install ./dataflow ...`` installs the local repository; pytest and pytest-asyncio
come from PyPI exactly as the page says. Without PyPI the test fails under ``CI=true`` and is
skipped otherwise, with the reason.

The virtualenv and the project directory are made once per session and shared by the two backends,
as a user runs both tabs in the same project (the install takes about 20 seconds).
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "index.md"

from doc_validation.docval.extract import Block, extract_blocks, load_site_config, load_yaml  # noqa: E402
from doc_validation.docval.grammar import Action, classify, is_test_file  # noqa: E402

pytestmark = [pytest.mark.xdist_group("newuser-quickstart"), pytest.mark.timeout(900)]

INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 240
PYPI_PROBE = "https://pypi.org/simple/pytest-asyncio/"
#: Environment a fresh shell of this machine keeps: package index settings, proxies, locale.
KEPT_ENV = re.compile(
    r"^(HOME|USER|LOGNAME|LANG|LC_\w+|TERM|TZ|TMPDIR|CI|PIP_\w+|(?i:https?_proxy|no_proxy))$"
)


@dataclass(frozen=True)
class QuickStart:
    """What the quick start shows, taken from the page."""

    install: Block
    clone_url: str
    files: dict[str, str]  # project file name -> content
    expected_tests: int
    run_sqlite: str
    run_postgresql: str


def _commands(block: Block) -> list[str]:
    return [line for line in block.content.split("\n") if line.strip() and not line.lstrip().startswith("#")]


def _repository_url() -> str:
    """The repository that publishes the site: https://OWNER.github.io/NAME/ -> github.com/OWNER/NAME."""
    config = load_yaml((REPO / "mkdocs.yml").read_text(encoding="utf-8")) or {}
    if config.get("repo_url"):
        return str(config["repo_url"]).rstrip("/")
    site = urlsplit(str(config["site_url"]))
    owner = site.hostname.removesuffix(".github.io") if site.hostname else ""
    return f"https://github.com/{owner}/{site.path.strip('/').split('/')[0]}"


def read_quick_start() -> QuickStart:
    site = load_site_config(REPO / "mkdocs.yml")
    blocks = [classify(b) for b in extract_blocks(PAGE, site)]
    section = PAGE.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(section, 1) if line.startswith("## Quick start"))
    end = next((i for i, line in enumerate(section, 1) if i > start and line.startswith("## ")),
               len(section) + 1)
    quick = [c for c in blocks if start < c.block.line < end]

    shells = [c.block for c in quick if c.action is Action.SHELL]
    installs = [b for b in shells if any("pip install" in cmd for cmd in _commands(b))]
    assert len(installs) == 1, f"expected one install block in the quick start, found {len(installs)}"
    install = installs[0]
    clones = [cmd for cmd in _commands(install) if cmd.split()[:2] == ["git", "clone"]]
    assert len(clones) == 1, f"{install.where}: expected one `git clone` command, found {clones}"
    clone_words = shlex.split(clones[0])
    assert len(clone_words) == 3, f"{install.where}: clone into the default directory: {clones[0]!r}"

    files: dict[str, str] = {}
    for c in quick:
        if c.action is Action.PROJECT and c.project == "default":
            assert c.block.title not in files, f"{c.block.label}: {c.block.title} shown twice"
            files[c.block.title] = c.block.content
    tests = sum(
        1
        for title, content in files.items() if is_test_file(title)
        for node in ast.parse(content).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    )

    runs = [cmd for b in shells if b is not install for cmd in _commands(b)]
    sqlite = [cmd for cmd in runs if "pytest" in cmd.split() and "DATABASE_URL=" not in cmd]
    postgresql = [cmd for cmd in runs if "pytest" in cmd.split() and "DATABASE_URL=postgres" in cmd]
    assert len(sqlite) == 1 and len(postgresql) == 1, f"expected one pytest command per tab, found {runs}"
    return QuickStart(install, clone_words[2], files, tests, sqlite[0], postgresql[0])


def _pypi_reachable() -> str | None:
    """None if PyPI answers, else why not."""
    cafile = os.environ.get("PIP_CERT") or None
    try:
        context = ssl.create_default_context(cafile=cafile)
        with urllib.request.urlopen(PYPI_PROBE, timeout=20, context=context) as response:  # noqa: S310
            response.read(1)
    except OSError as exc:
        return f"PyPI is unreachable ({PYPI_PROBE}: {exc}); the quick start installs pytest from it"
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def _user_env(shims: Path, **extra: str) -> dict[str, str]:
    """A new user's shell: no dev virtualenv, no DATABASE_URL or pytest settings of this run."""
    dev_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and p != dev_bin]
    env = {k: v for k, v in os.environ.items() if KEPT_ENV.match(k)}
    env["PATH"] = os.pathsep.join([str(shims), *path])
    env.update(extra)
    return env


def _bash(script: str, cwd: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@dataclass(frozen=True)
class UserProject:
    home: Path  # where the user started: the virtualenv and the clone are here
    project: Path  # where the install block left the shell: the project files are here
    shims: Path
    quick: QuickStart


@pytest.fixture(scope="session")
def quick_start() -> QuickStart:
    return read_quick_start()


@pytest.fixture(scope="session")
def user_project(quick_start: QuickStart, tmp_path_factory: pytest.TempPathFactory) -> UserProject:
    """The page's install block run once, as written, in a fresh directory; the page's files written."""
    assert quick_start.clone_url.removesuffix(".git") == _repository_url(), (
        f"{quick_start.install.where}: the quick start clones {quick_start.clone_url}, but the site is "
        f"published from {_repository_url()}"
    )
    reason = _pypi_reachable()
    if reason:
        _unavailable(reason)

    home = tmp_path_factory.mktemp("newuser")
    # `python3` is the interpreter of this suite (3.11), not whatever python3 comes first on PATH.
    shims = home / ".shims"
    shims.mkdir()
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (shims / "python3").symlink_to(base)

    clone_dir = PurePosixPath(urlsplit(quick_start.clone_url).path).name.removesuffix(".git")
    script = ["set -x"]
    for command in _commands(quick_start.install):
        if command.split()[:2] == ["git", "clone"]:
            # This test cannot reach GitHub: the local checkout stands in for the clone, under the
            # directory name `git clone` would give it, so the page's `pip install ./dataflow` runs as is.
            command = f"ln -s {shlex.quote(str(REPO))} {shlex.quote(clone_dir)}"
        script.append(command)
    script.append('pwd > "$QUICKSTART_PWD_FILE"')
    pwd_file = home / ".pwd"
    env = _user_env(shims, QUICKSTART_PWD_FILE=str(pwd_file))
    result = _bash("\n".join(script), home, env, INSTALL_TIMEOUT)
    assert result.returncode == 0, (
        f"the install block at {quick_start.install.where} failed (exit {result.returncode}):\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    project = Path(pwd_file.read_text().strip())
    assert (home / ".venv" / "bin" / "python").exists(), "the install block made no .venv"
    venv_python = str(home / ".venv" / "bin" / "python")
    version = subprocess.run([venv_python, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == str(sys.version_info[:2]), f"the virtualenv runs Python {version}"
    for title, content in quick_start.files.items():
        target = project / title
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return UserProject(home, project, shims, quick_start)


def _run_tab(user: UserProject, command: str, tmp_path: Path) -> None:
    # Activate the virtualenv as the install block did, then the tab's command as written. The inner
    # pytest gets its own temp root so it never prunes this run's temporary directories.
    script = f"source {shlex.quote(str(user.home / '.venv' / 'bin' / 'activate'))}\n{command}"
    env = _user_env(user.shims, PYTEST_DEBUG_TEMPROOT=str(tmp_path))
    result = _bash(script, user.project, env, RUN_TIMEOUT)
    output = result.stdout + result.stderr
    expected = user.quick.expected_tests
    summary = re.search(r"^=+ (.*) in [\d.]+s", result.stdout, re.M)
    assert result.returncode == 0 and summary and summary.group(1) == f"{expected} passed", (
        f"`{command}` in the quick-start project: exit {result.returncode}, expected exactly "
        f"'{expected} passed' (green: no failure, error, skip or warning):\n{output[-6000:]}"
    )


def test_quick_start_reaches_green_tests(backend: str, database_url: str, user_project: UserProject,
                                         tmp_path: Path) -> None:
    quick = user_project.quick
    if backend == "sqlite":
        command = quick.run_sqlite
    else:
        command = re.sub(r"DATABASE_URL=\S+", lambda _m: f"DATABASE_URL={shlex.quote(database_url)}",
                         quick.run_postgresql)
    _run_tab(user_project, command, tmp_path)


def test_quick_start_is_read_from_the_page(quick_start: QuickStart) -> None:
    """The quick start shows a complete project: a pytest.ini, a conftest.py that enables the plugin,
    at least one test; and it installs from the repository, not the unrelated PyPI `dataflow`."""
    assert {"pytest.ini", "conftest.py"} <= set(quick_start.files), sorted(quick_start.files)
    assert 'pytest_plugins = ["dataflow.testing"]' in quick_start.files["conftest.py"]
    assert quick_start.expected_tests >= 1
    for command in _commands(quick_start.install):
        words = shlex.split(command)
        if "install" in words and "pip" in words:
            assert "dataflow" not in words, (
                f"{quick_start.install.where}: `dataflow` on PyPI is another project"
            )
