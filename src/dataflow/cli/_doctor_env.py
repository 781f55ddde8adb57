"""The checks of ``dataflow doctor`` that look outside the project's files: installed plugin
versions, the database URL, and (with ``--import``) importing the project's modules."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .._dialects import parse_url
from .._errors import InvalidURLError
from .._url import DatabaseURL
from ._findings import ANCHORS, Finding
from ._pytest_modules import Module
from ._pytest_project import Project

__all__ = ["SUPPORTED", "check_database_url", "check_imports", "check_versions", "shown_url"]

#: The plugin versions the guide supports: ``(lowest, first unsupported)`` release.
SUPPORTED: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "pytest-asyncio": ((1, 0), (2, 0)),
    "pytest-xdist": ((3, 0), (4, 0)),
}

_CONNECT_TIMEOUT = 3.0


def _version(text: str) -> tuple[int, ...]:
    numbers = re.match(r"\d+(?:\.\d+)*", text)
    return tuple(int(p) for p in numbers.group(0).split(".")) if numbers else ()


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _uses_xdist(project: Project) -> bool:
    config = project.config
    return config.cli_option("-n", "--numprocesses") is not None or config.cli_option("--dist") is not None


def check_versions(project: Project) -> list[Finding]:
    """pytest-asyncio and pytest-xdist versions outside what the guide supports."""
    findings = []
    needs_asyncio = (
        any(t.is_async and not t.other_async_marker for t in project.tests)
        or any(f.is_async for f in project.fixtures)
        or project.config.option("asyncio_mode") is not None
    )
    where = f"in this Python environment ({sys.executable})"
    for name, needed in (("pytest-asyncio", needs_asyncio), ("pytest-xdist", _uses_xdist(project))):
        low, high = SUPPORTED[name]
        supported = f"{'.'.join(map(str, low))} or later, below {'.'.join(map(str, high))}"
        installed = _installed(name)
        if installed is None:
            if needed:
                why = "the project has async tests or fixtures" if name == "pytest-asyncio" else "addopts uses -n"
                findings.append(
                    Finding(
                        "versions",
                        None,
                        None,
                        f"{name} is not installed {where}, but {why}.",
                        f'install a supported version: python -m pip install "{name}>={low[0]}.{low[1]},<{high[0]}"',
                    )
                )
            continue
        version = _version(installed)
        if not low <= version < high:
            findings.append(
                Finding(
                    "versions",
                    None,
                    None,
                    f"{name} {installed} is installed {where}; the guide supports {supported}.",
                    f'install a supported version: python -m pip install "{name}>={low[0]}.{low[1]},<{high[0]}"',
                )
            )
    return findings


def _reachable(url: DatabaseURL) -> str | None:
    """None when something accepts connections at the URL's host and port, else the reason."""
    port = url.port or url.default_port or 0
    host = url.host or "localhost"
    try:
        if host.startswith("/"):  # a socket directory: the server's socket file is in it
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(_CONNECT_TIMEOUT)
                sock.connect(os.path.join(host, f".s.PGSQL.{port}"))
        else:
            with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
                pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def shown_url(url_text: str | None) -> str | None:
    """The URL as doctor prints it: password replaced by ``***`` (``(invalid)`` if it does not parse)."""
    if not url_text:
        return None
    try:
        return parse_url(url_text).redacted
    except InvalidURLError:
        return "(invalid)"


def check_database_url(project: Project, url_text: str | None, source: str) -> list[Finding]:
    """DATABASE_URL: parseable, reachable, and naming a test database."""
    if not url_text:
        return []
    try:
        url = parse_url(url_text)
    except InvalidURLError as exc:
        return [
            Finding(
                "database-url",
                None,
                None,
                f"{source} is not a URL DataFlow accepts: {exc.detail}",
                "use sqlite:///path/test.db or postgresql://user:password@host:port/name_test.",
                anchor=ANCHORS["database-url-invalid"],
            )
        ]
    findings = []
    if not url.path_style:
        reason = _reachable(url)
        if reason is not None:
            findings.append(
                Finding(
                    "database-url",
                    None,
                    None,
                    f"{source} points at {url.location}, where nothing accepts connections ({reason}); "
                    f"every test that uses the database fails with DF-501.",
                    "start the database server, or correct the host and port in the URL.",
                )
            )
    name = Path(url.database).name if url.path_style else url.database
    if not url.is_memory and "test" not in name.lower():
        findings.append(
            Finding(
                "database-url",
                None,
                None,
                f"{source} names the database '{name}', which does not look like a test database: DataFlow's "
                "fixtures drop the tables they create there.",
                "point tests at a database whose name says so (app_test, test_app) and keep data you need "
                "elsewhere.",
                anchor=ANCHORS["database-url-name"],
            )
        )
    return findings


# --- --import ---------------------------------------------------------------------------------------

_IMPORT_SCRIPT = r"""
import importlib, json, sys, traceback
from pathlib import Path
results = []
for path, base, name in json.loads(sys.argv[1]):
    if base not in sys.path:
        sys.path.insert(0, base)
    entry = {"path": path, "error": None, "dataflow": []}
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        entry["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    else:
        from dataflow import DataFlow
        entry["dataflow"] = sorted(k for k, v in vars(module).items() if isinstance(v, DataFlow))
    results.append(entry)
print(json.dumps(results))
"""


def _import_name(path: Path) -> tuple[Path, str]:
    """pytest's ``prepend`` import mode: the first directory upwards without ``__init__.py``, and the name."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    return directory, ".".join(parts)


def check_imports(project: Project) -> list[Finding]:
    """Import every conftest and test module in a child process: import errors, DataFlow globals."""
    modules = [m for m in project.modules if not m.error]
    if not modules:
        return []
    plan = []
    for module in modules:
        base, name = _import_name(module.path)
        plan.append((module.rel, str(base), name))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_SCRIPT, json.dumps(plan)],
        cwd=project.config.rootdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        results = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return [
            Finding(
                "import",
                None,
                None,
                f"importing the project's modules stopped the child process (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-400:]}",
                "run python -c 'import MODULE' for each test module to find the one that exits or crashes.",
            )
        ]
    by_rel: dict[str, Module] = {m.rel: m for m in modules}
    findings = []
    for entry in results:
        module = by_rel[entry["path"]]
        if entry["error"]:
            findings.append(
                Finding(
                    "import",
                    module.rel,
                    None,
                    f"fails to import: {entry['error'].splitlines()[-1]}; pytest reports a collection error.",
                    "fix the import error (python -c 'import ...' in the rootdir shows the full traceback).",
                )
            )
        elif entry["dataflow"] and not module.dataflow_calls:
            findings.append(
                Finding(
                    "import-time-dataflow",
                    module.rel,
                    None,
                    f"holds DataFlow instances created at import time ({', '.join(entry['dataflow'])}), "
                    "through a helper the static check cannot see: every test shares them and no fixture "
                    "closes them.",
                    "create the instance in a fixture that closes it, or request dataflow_db.",
                )
            )
    return findings
