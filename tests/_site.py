"""The docs site, built once per test run and shared by every test that needs it.

The site is versioned (mike): ``scripts/versioned_docs.py`` runs the one ``mkdocs build --strict``
inside mike's deploy to a throwaway git repository and exports the published tree: ``<version>/``
(this release's docs), ``latest/`` (redirects to it), ``versions.json`` and a root redirect.

``nox -s tests`` makes that build before pytest starts and passes it in two environment variables:
``DATAFLOW_SITE_DIR`` (the exported tree) and ``DATAFLOW_SITE_LOG`` (the build's output, where mkdocs
writes its warnings). The doc validation (``mkdocs build --strict`` passed), the error catalog test
(every code's anchor is in the HTML) and the browser tests all read that one build. Without the
variables (a plain ``pytest`` run), the first test that needs the site builds it into a temporary
directory, once per pytest process.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "mkdocs.yml"
SITE_DIR_ENV = "DATAFLOW_SITE_DIR"
SITE_LOG_ENV = "DATAFLOW_SITE_LOG"


def versioned_docs() -> ModuleType:
    """``scripts/versioned_docs.py``, loaded by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("_dataflow_versioned_docs", REPO / "scripts" / "versioned_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class BuiltSite:
    """A finished versioned build: the published tree, this release's version and the build's output."""

    root: Path
    version: str
    log: str
    returncode: int

    @property
    def directory(self) -> Path:
        """This release's docs (``<root>/<version>/``), as an unversioned build would lay them out."""
        return self.root / self.version

    @property
    def warnings(self) -> list[str]:
        """The build's WARNING and ERROR lines (``--strict`` turns each into a failure)."""
        return [line for line in self.log.splitlines() if line.startswith(("WARNING", "ERROR"))]


def build(out: Path) -> BuiltSite:
    """The versioned build of the repository's docs into ``out`` (a throwaway git repository)."""
    module = versioned_docs()
    log = out.parent / f"{out.name}.log"
    code = module.publish(out, log)
    return BuiltSite(out, module.docs_version(), log.read_text(encoding="utf-8"), code)


def prebuilt() -> BuiltSite | None:
    """The build that nox made for this run, or None when the variables are not set."""
    directory = os.environ.get(SITE_DIR_ENV)
    if not directory:
        return None
    log_file = os.environ.get(SITE_LOG_ENV)
    root = Path(directory)
    version = versioned_docs().docs_version()
    if not (root / version / "index.html").is_file():
        raise RuntimeError(f"{SITE_DIR_ENV}={directory} holds no versioned site for {version}")
    if not log_file or not Path(log_file).is_file():
        raise RuntimeError(f"{SITE_DIR_ENV} is set, but {SITE_LOG_ENV} does not name the build's log file")
    # nox stops before pytest when the strict build fails, so a prebuilt site always built cleanly.
    return BuiltSite(root, version, Path(log_file).read_text(encoding="utf-8"), 0)
