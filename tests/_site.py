"""The docs site, built once per test run and shared by every test that needs it.

``nox -s tests`` runs ``mkdocs build --strict`` once before pytest starts and passes the result in
two environment variables: ``DATAFLOW_SITE_DIR`` (the built site) and ``DATAFLOW_SITE_LOG`` (the
build's output, where mkdocs writes its warnings). The doc validation (``mkdocs build --strict``
passes), the error catalog test (every code's anchor is in the HTML) and the browser tests all read
that one build. Without the variables (a plain ``pytest`` run), the first test that needs the site
builds it into a temporary directory, once per pytest process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "mkdocs.yml"
SITE_DIR_ENV = "DATAFLOW_SITE_DIR"
SITE_LOG_ENV = "DATAFLOW_SITE_LOG"
BUILD_ENV = {"NO_MKDOCS_2_WARNING": "1"}


@dataclass(frozen=True)
class BuiltSite:
    """A finished ``mkdocs build --strict``: where the site is and what the build printed."""

    directory: Path
    log: str
    returncode: int

    @property
    def warnings(self) -> list[str]:
        """The build's WARNING and ERROR lines (``--strict`` turns each into a failure)."""
        return [line for line in self.log.splitlines() if line.startswith(("WARNING", "ERROR"))]


def build(out: Path, config: Path = CONFIG) -> BuiltSite:
    """``mkdocs build --strict`` of ``config`` into ``out``."""
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(config), "-d", str(out)],
        cwd=config.parent,
        env={**os.environ, **BUILD_ENV},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return BuiltSite(out, proc.stdout + proc.stderr, proc.returncode)


def prebuilt() -> BuiltSite | None:
    """The build that nox made for this run, or None when the variables are not set."""
    directory = os.environ.get(SITE_DIR_ENV)
    if not directory:
        return None
    log_file = os.environ.get(SITE_LOG_ENV)
    path = Path(directory)
    if not (path / "index.html").is_file():
        raise RuntimeError(f"{SITE_DIR_ENV}={directory} holds no built site")
    if not log_file or not Path(log_file).is_file():
        raise RuntimeError(f"{SITE_DIR_ENV} is set, but {SITE_LOG_ENV} does not name the build's log file")
    # nox stops before pytest when the strict build fails, so a prebuilt site always built cleanly.
    return BuiltSite(path, Path(log_file).read_text(encoding="utf-8"), 0)
