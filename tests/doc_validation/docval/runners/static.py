"""Checks that need no database: shown shell commands, parsed config blocks, copies of files."""

from __future__ import annotations

import ast
import configparser
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from ..extract import Block, SiteConfig, load_yaml
from ..grammar import Action, Classified
from ._base import subprocess_env
from .lint import ruff_problems

SHELL_BUILTINS = {"cd", "export", "source", ".", "set", "unset", "echo", "exit", "true", "false", "read", "alias",
                  "eval", "exec", "test", "[", "printf", "wait", "kill", "trap", "ulimit", "umask", "type"}
PREFIXES = {"sudo", "env", "time", "nohup", "command"}


def shell_commands(block: Block) -> list[tuple[int, str]]:
    """``(page line, command line)`` for each command shown (console: only ``$ `` lines)."""
    result: list[tuple[int, str]] = []
    pending, start = "", 0
    for index, raw in enumerate(block.content.split("\n"), start=1):
        line = raw.rstrip()
        if not pending:
            if block.lang == "console" or block.lang == "shell-session":
                m = re.match(r"^(?:\([^)]*\) )?\$ (.*)$", line)
                if not m:
                    continue
                line = m.group(1)
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = index
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        result.append((block.page_line(start), pending + line))
        pending = ""
    if pending:
        result.append((block.page_line(start), pending))
    return result


def nox_sessions(site: SiteConfig) -> set[str]:
    noxfile = site.root / "noxfile.py"
    if not noxfile.exists():
        return set()
    names: set[str] = set()
    for node in ast.walk(ast.parse(noxfile.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if ast.unparse(target).endswith("session"):
                    names.add(node.name)
                    if isinstance(deco, ast.Call):
                        names.update(str(k.value.value) for k in deco.keywords
                                     if k.arg == "name" and isinstance(k.value, ast.Constant))
    return names


def _module_exists(module: str, env: dict[str, str]) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode == 0


def check_shell(c: Classified, site: SiteConfig) -> list[str]:
    problems = []
    env = subprocess_env(site, None)
    sessions: set[str] | None = None
    for line_no, command in shell_commands(c.block):
        try:
            lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            problems.append(f"{c.block.rel}:{line_no}: cannot parse {command!r}: {exc}")
            continue
        simple: list[list[str]] = [[]]
        for token in tokens:
            if token in {"&&", "||", ";", "|", "&", "(", ")"}:
                simple.append([])
            elif re.fullmatch(r"[<>]+|\d?>&?\d?", token) is None:
                simple[-1].append(token)
        for words in simple:
            while words and (re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]) or words[0] in PREFIXES):
                words = words[1:]
            if not words or words[0] in SHELL_BUILTINS:
                continue
            program = words[0]
            where = f"{c.block.rel}:{line_no}"
            if "/" in program:
                if not (site.root / program).exists():
                    problems.append(f"{where}: {program} does not exist in the repository")
                continue
            if shutil.which(program, path=env["PATH"]) is None:
                problems.append(f"{where}: program {program!r} not found (PATH and {Path(sys.executable).parent})")
                continue
            if re.fullmatch(r"python(3(\.\d+)?)?", program) and "-m" in words:
                module = words[words.index("-m") + 1] if words.index("-m") + 1 < len(words) else ""
                if not module or not _module_exists(module, env):
                    problems.append(f"{where}: python -m {module}: no such module")
            if program == "nox":
                if sessions is None:
                    sessions = nox_sessions(site)
                for i, word in enumerate(words):
                    if word in ("-s", "--session", "--sessions", "-e"):
                        for name in words[i + 1:]:
                            if name.startswith("-"):
                                break
                            if name.split("(")[0].split("-")[0] not in sessions and name not in sessions:
                                problems.append(f"{where}: nox session {name!r} is not defined in noxfile.py "
                                                f"(sessions: {', '.join(sorted(sessions)) or 'none'})")
    return problems


def check_parsed(c: Classified) -> list[str]:
    block, lang = c.block, c.block.lang
    try:
        if lang == "toml":
            tomllib.loads(block.content)
        elif lang in ("ini", "cfg"):
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(block.content)
        elif lang in ("yaml", "yml"):
            load_yaml(block.content)
        elif lang == "json":
            json.loads(block.content)
    except Exception as exc:  # noqa: BLE001 - any parse error is the report
        return [f"{block.label}: does not parse as {lang}: {exc}"]
    return []


def check_source(block: Block, site: SiteConfig) -> list[str]:
    """A block with ``source="path"`` must equal that file byte for byte."""
    source = block.attrs.get("source")
    if not source:
        return []
    path = site.root / source
    if not path.is_file():
        return [f"{block.label}: source={source!r} does not exist"]
    expected = path.read_text(encoding="utf-8")
    shown = block.content if expected.endswith("\n") else block.content.removesuffix("\n")
    if shown == expected:
        return []
    diff = "\n".join(difflib.unified_diff(expected.split("\n"), shown.split("\n"), fromfile=source,
                                          tofile=block.label, lineterm=""))
    first = next((i for i, (a, b) in enumerate(zip(expected.split("\n"), shown.split("\n"), strict=False)) if a != b),
                 min(len(expected.split("\n")), len(shown.split("\n"))))
    return [f"{block.rel}:{block.page_line(first + 1)}: the block differs from {source} "
            f"(include it with --8<-- \"{source}\" instead of copying)\n{diff}"]


#: A YAML block titled like this is a GitHub Actions workflow: actionlint checks it.
WORKFLOW_TITLE = re.compile(r"^\.github/workflows/[^/]+\.ya?ml$")


def check_workflow(c: Classified) -> list[str]:
    """actionlint on a workflow block (``title=".github/workflows/x.yml"``); lines mapped to the page."""
    block = c.block
    if not WORKFLOW_TITLE.match(block.title):
        return []
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    program = shutil.which("actionlint", path=search)
    if program is None:
        return [f"{block.label}: actionlint is not installed (it comes with the test extras), so this workflow "
                "cannot be checked"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(block.title).name
        path.write_text(block.content, encoding="utf-8")
        proc = subprocess.run([program, "-no-color", "-oneline", str(path)], capture_output=True, text=True,
                              timeout=60)
    if proc.returncode == 0:
        return []
    findings = [re.sub(r"^[^:]+:(\d+):(\d+):", lambda m: f"{block.rel}:{block.page_line(int(m.group(1)))}:"
                       f"{m.group(2)}:", line) for line in (proc.stdout + proc.stderr).strip().splitlines()]
    return [f"{block.label}: actionlint rejects this workflow\n" + "\n".join(findings)]


def static_problems(c: Classified, site: SiteConfig) -> list[str]:
    """Checks that need no database: shell programs, parsing, source drift, ruff on Python blocks."""
    problems = check_source(c.block, site) + ruff_problems(c)
    if c.action is Action.SHELL:
        problems += check_shell(c, site)
    if c.action is Action.PARSED or (c.action is Action.PROJECT and c.block.lang in ("toml", "ini", "cfg")):
        problems += check_parsed(c)
    if c.action is Action.PARSED and c.block.lang in ("yaml", "yml") and not problems:
        problems += check_workflow(c)
    return problems

