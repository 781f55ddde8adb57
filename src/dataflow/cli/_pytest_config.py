"""The pytest configuration of a project, found and read the way pytest does (nothing imported).

:func:`find_config` looks for ``pytest.ini``, ``.pytest.ini``, ``pyproject.toml``
(``[tool.pytest.ini_options]``, or pytest 9's ``[tool.pytest]``), ``tox.ini`` (``[pytest]``) and
``setup.cfg`` (``[tool:pytest]``) from the start directory upwards, and applies ``addopts``,
``PYTEST_ADDOPTS`` and ``-o name=value`` overrides.
"""

from __future__ import annotations

import configparser
import os
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SCOPES", "PytestConfig", "find_config", "wider"]

#: pytest's fixture scopes, narrowest first.
SCOPES = ("function", "class", "module", "package", "session")


def wider(a: str, b: str) -> bool:
    """True when scope ``a`` outlives scope ``b`` (``wider("session", "function")``)."""
    return SCOPES.index(a) > SCOPES.index(b)


# --- configuration --------------------------------------------------------------------------------


@dataclass
class PytestConfig:
    """The pytest configuration in effect for the project.

    Attributes:
        rootdir: pytest's rootdir: the directory of the config file, or the start directory.
        file: The config file, or None when the project has none.
        options: The ini options as strings (lists joined with spaces), ``-o`` overrides applied.
        addopts: ``addopts`` plus ``PYTEST_ADDOPTS``, split into arguments.
    """

    rootdir: Path
    file: Path | None = None
    options: dict[str, str] = field(default_factory=dict)
    addopts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The config file's name for messages (``pytest.ini``, ``pyproject.toml``, ...)."""
        return self.file.name if self.file else "no pytest configuration file"

    def option(self, name: str) -> str | None:
        """An ini option's value, or None when it is not set."""
        value = self.options.get(name)
        return value.strip() if value is not None and value.strip() else None

    def cli_option(self, *names: str) -> str | None:
        """The value of a command-line option given in addopts (``--asyncio-mode=auto``)."""
        args = self.addopts
        for index, arg in enumerate(args):
            for name in names:
                if arg == name and index + 1 < len(args):
                    return args[index + 1]
                if arg.startswith(name + "="):
                    return arg.split("=", 1)[1]
                if len(name) == 2 and arg.startswith(name) and len(arg) > 2:  # -pname, -n4
                    return arg[2:]
        return None

    def plugins(self) -> list[str]:
        """Plugins enabled with ``-p NAME`` in addopts (``no:NAME`` excluded)."""
        found = []
        for index, arg in enumerate(self.addopts):
            value = None
            if arg == "-p" and index + 1 < len(self.addopts):
                value = self.addopts[index + 1]
            elif arg.startswith("-p") and len(arg) > 2:
                value = arg[2:]
            if value and not value.startswith("no:"):
                found.append(value)
        return found

    @property
    def asyncio_mode(self) -> str:
        """``auto`` or ``strict`` (pytest-asyncio's default)."""
        return (self.cli_option("--asyncio-mode") or self.option("asyncio_mode") or "strict").lower()

    def where(self, name: str) -> str:
        """Where an ini option comes from, for messages: ``asyncio_mode = auto in pytest.ini``."""
        value = self.option(name)
        if value is None:
            return f"{name} is not set in {self.label}"
        return f"{name} = {value} in {self.label}"


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_section(section):
        return None
    return {key: value for key, value in parser.items(section)}


def _toml_options(path: Path) -> dict[str, str] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None
    tool = data.get("tool", {}).get("pytest")
    if not isinstance(tool, dict):
        return None
    # pytest 8: [tool.pytest.ini_options]; pytest 9 also reads native [tool.pytest] keys.
    table = tool.get("ini_options", {}) if "ini_options" in tool else tool
    options: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, list):
            options[key] = " ".join(shlex.quote(str(v)) if key == "addopts" else str(v) for v in value)
        elif isinstance(value, bool):
            options[key] = "true" if value else "false"
        else:
            options[key] = str(value)
    return options


def _read_config_file(path: Path) -> dict[str, str] | None:
    """The pytest options of ``path``, or None when the file holds no pytest configuration."""
    name = path.name
    if name in ("pytest.ini", ".pytest.ini"):
        return _ini_section(path, "pytest") or {}  # pytest.ini wins even without a [pytest] section
    if name == "pyproject.toml":
        return _toml_options(path)
    if name == "tox.ini":
        return _ini_section(path, "pytest")
    if name == "setup.cfg":
        return _ini_section(path, "tool:pytest")
    return None


def find_config(start: Path) -> PytestConfig:
    """The configuration pytest would use when run in ``start`` (searching upwards)."""
    for directory in (start, *start.parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            candidate = directory / name
            if candidate.is_file():
                options = _read_config_file(candidate)
                if options is not None:
                    return _finish_config(PytestConfig(directory, candidate, options))
    return _finish_config(PytestConfig(start))


def _finish_config(config: PytestConfig) -> PytestConfig:
    args: list[str] = []
    for source in (config.options.get("addopts", ""), os.environ.get("PYTEST_ADDOPTS", "")):
        try:
            args += shlex.split(source)
        except ValueError:
            args += source.split()
    config.addopts = args
    for index, arg in enumerate(args):  # -o name=value / --override-ini=name=value win over the file
        value = None
        if arg in ("-o", "--override-ini") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--override-ini="):
            value = arg.split("=", 1)[1]
        if value and "=" in value:
            key, _, option = value.partition("=")
            config.options[key.strip()] = option
    return config
