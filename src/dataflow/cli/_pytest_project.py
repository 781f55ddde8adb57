"""A static picture of a pytest project, read with ``ast``: nothing of the project is imported.

:func:`load_project` finds the pytest configuration the way pytest does, collects the
``conftest.py`` files and test modules pytest would collect (honouring ``testpaths``,
``python_files``, ``python_functions``, ``python_classes`` and ``norecursedirs``), and parses each
one. :class:`Project` then answers which fixture definition a test gets and what a test uses.
``dataflow doctor`` runs its checks on this picture.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._pytest_config import PytestConfig, find_config
from ._pytest_modules import Fixture, Module, TestFunction, parse_module

__all__ = ["Project", "load_project", "plugin_fixtures"]

_DEFAULT_NORECURSE = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")
_DEFAULT_FILES = ("test_*.py", "*_test.py")



@dataclass
class Project:
    """Everything ``dataflow doctor`` knows about a project, without importing any of it."""

    start: Path
    config: PytestConfig
    conftests: list[Module]
    test_modules: list[Module]
    plugin: list[Fixture]

    @property
    def modules(self) -> list[Module]:
        """Conftest files first, then test modules."""
        return [*self.conftests, *self.test_modules]

    @property
    def tests(self) -> list[TestFunction]:
        """Every test function pytest would collect."""
        return [t for m in self.test_modules for t in m.tests]

    @property
    def fixtures(self) -> list[Fixture]:
        """Every fixture defined in the project (the plugin's excluded)."""
        return [f for m in self.modules for f in m.fixtures]

    def rel(self, path: Path) -> str:
        """``path`` as messages show it: relative to the working directory when inside it, else absolute."""
        cwd = Path.cwd()
        return path.relative_to(cwd).as_posix() if path.is_relative_to(cwd) else path.as_posix()

    def _conftests_for(self, path: Path) -> list[Module]:
        """The conftest modules that apply to ``path``, nearest first."""
        by_dir = {m.path.parent: m for m in self.conftests}
        result = []
        for directory in path.parents:
            if directory in by_dir:
                result.append(by_dir[directory])
            if directory == self.config.rootdir:
                break
        return result

    def visible(self, module: Module, cls: str | None) -> list[Fixture]:
        """The fixtures a test or fixture in ``module`` (class ``cls``) can see, closest first."""
        found: list[Fixture] = []
        if cls:
            found += [f for f in module.fixtures if f.cls == cls]
        found += [f for f in module.fixtures if f.cls is None]
        for conftest in self._conftests_for(module.path):
            if conftest is not module:
                found += [f for f in conftest.fixtures if f.cls is None]
        return found + self.plugin

    def resolve(self, name: str, module: Module, cls: str | None, *, skip: Fixture | None = None) -> Fixture | None:
        """The definition pytest would use for fixture ``name`` requested from ``module``/``cls``."""
        candidates = [f for f in self.visible(module, cls) if f.name == name]
        if skip is not None and skip in candidates:  # a fixture overriding one of the same name
            candidates = candidates[candidates.index(skip) + 1 :]
        return candidates[0] if candidates else None

    def closure(self, test: TestFunction) -> list[Fixture]:
        """Every fixture ``test`` uses, directly, through other fixtures or by autouse."""
        return list(self.requested_by(test))

    def requested_by(self, test: TestFunction) -> dict[Fixture, Fixture | None]:
        """Every fixture ``test`` uses, each with the fixture that requested it (None: the test itself)."""
        visible = self.visible(test.module, test.cls)
        pending: list[tuple[str, Module, str | None, Fixture | None, Fixture | None]] = [
            (name, test.module, test.cls, None, None) for name in test.requests
        ]
        pending += [(f.name, test.module, test.cls, None, None) for f in visible if f.autouse]
        seen: dict[Fixture, Fixture | None] = {}
        while pending:
            name, module, cls, skip, parent = pending.pop(0)
            fixture = self.resolve(name, module, cls, skip=skip)
            if fixture is None or fixture in seen:
                continue
            seen[fixture] = parent
            origin = fixture.module or test.module
            for requested in fixture.requests:
                overriding = fixture if requested == fixture.name else None
                pending.append((requested, origin, fixture.cls, overriding, fixture))
        return seen

    def requesters(self, name: str) -> list[tuple[str, Module, int]]:
        """``(id, module, line)`` of every test and fixture that requests ``name`` by that name."""
        found = [(t.nodeid, t.module, t.line) for t in self.tests if name in t.requests]
        found += [
            (f"fixture '{f.name}'", f.module, f.line)
            for f in self.fixtures
            if f.module is not None and name in f.requests
        ]
        return found


def plugin_fixtures() -> list[Fixture]:
    """The fixtures of ``dataflow.testing``, read from its source (the plugin is not imported)."""
    spec = importlib.util.find_spec("dataflow.testing")
    if spec is None or spec.origin is None:
        return []
    source = Path(spec.origin)
    module = parse_module(source, "dataflow.testing", is_conftest=True, functions=[], classes=[])
    fixtures = module.fixtures
    for fixture in fixtures:
        fixture.module = None
    return fixtures


def _is_virtualenv(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file()


def _walk(root: Path, norecurse: list[str]) -> Iterator[Path]:
    """The .py files under ``root`` that pytest would look at, in a stable order."""
    if root.is_file():
        yield root
        return
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d != "__pycache__"
            and not any(fnmatch.fnmatch(d, p) for p in norecurse)
            and not _is_virtualenv(here / d)
        )
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield here / name


def load_project(start: Path) -> Project:
    """Read the project that ``pytest`` would run in ``start`` (a directory or a test file)."""
    start = start.resolve()
    base = start if start.is_dir() else start.parent
    config = find_config(base)
    norecurse = (config.option("norecursedirs") or " ".join(_DEFAULT_NORECURSE)).split()
    files = (config.option("python_files") or " ".join(_DEFAULT_FILES)).split()
    functions = (config.option("python_functions") or "test").split()
    classes = (config.option("python_classes") or "Test").split()
    roots = [start]
    testpaths = config.option("testpaths")
    if testpaths and start == config.rootdir:
        roots = [config.rootdir / p for p in testpaths.split() if (config.rootdir / p).exists()] or [start]

    conftest_paths: list[Path] = []
    test_paths: list[Path] = []
    for root in roots:
        directory = root if root.is_dir() else root.parent
        for parent in (directory, *directory.parents):  # conftests above the scanned directory
            if parent != directory and (parent / "conftest.py").is_file():
                conftest_paths.append(parent / "conftest.py")
            if parent == config.rootdir or parent == parent.parent:
                break
        for path in _walk(root, norecurse):
            if path.name == "conftest.py":
                conftest_paths.append(path)
            elif any(fnmatch.fnmatch(path.name, p) for p in files):
                test_paths.append(path)

    def unique(paths: list[Path]) -> list[Path]:
        return sorted(dict.fromkeys(paths), key=lambda p: (len(p.parts), p.as_posix()))

    project = Project(start=base, config=config, conftests=[], test_modules=[], plugin=plugin_fixtures())
    project.conftests = [
        parse_module(p, project.rel(p), is_conftest=True, functions=functions, classes=classes)
        for p in unique(conftest_paths)
    ]
    project.test_modules = [
        parse_module(p, project.rel(p), is_conftest=False, functions=functions, classes=classes)
        for p in sorted(dict.fromkeys(test_paths))
    ]
    return project
