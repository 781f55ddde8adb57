"""Run classified blocks against a database and report drift as readable problems.

Every function returns a list of problem strings (empty: the block is fine). Each problem names the
page line; the caller prefixes the block label and backend.
"""

from __future__ import annotations

import ast
import asyncio
import configparser
import difflib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .classify import Action, Classified, is_test_file
from .extract import Block, SiteConfig, load_yaml

HARNESS_DIR = Path(__file__).resolve().parent
TIMEOUT = 600
OUTPUT_LINE = re.compile(r"^\s*#(?:\[(?P<backend>[a-z]+)\])?>(?: ?(?P<text>.*))?$")


@dataclass
class Updates:
    """Rewrites proposed by a run in update mode (applied at session end)."""

    records: list[dict[str, Any]] = field(default_factory=list)


def subprocess_env(site: SiteConfig, database_url: str | None) -> dict[str, str]:
    """The environment of a doc run: the outer pytest run does not leak in; DATABASE_URL is set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DATABASE_URL", "COV_"))}
    paths = [str(site.root / "src"), str(HARNESS_DIR), env.get("PYTHONPATH", "")]
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        COLUMNS="80",
        PY_COLORS="0",
        NO_COLOR="1",
    )
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, -9, str(exc.stdout or ""), f"timed out after {TIMEOUT}s")


def _map_paths(text: str, files: dict[str, Block]) -> str:
    """Rewrite ``File "x.py", line N`` and ``x.py:N:`` of written block files to page lines."""

    def file_line(m: re.Match[str]) -> str:
        block = files.get(m.group(1)) or files.get(Path(m.group(1)).name)
        if block is None:
            return m.group(0)
        return f'File "{block.rel}", line {block.page_line(int(m.group(2)))} [{block.title or "example"}]'

    def colon_line(m: re.Match[str]) -> str:
        block = files.get(m.group(1)) or files.get(Path(m.group(1)).name)
        if block is None:
            return m.group(0)
        return f"{block.rel}:{block.page_line(int(m.group(2)))} [{block.title or 'example'}]:"

    text = re.sub(r'File "([^"]+)", line (\d+)', file_line, text)
    return re.sub(r"(?m)^([\w./-]+\.py):(\d+):", colon_line, text)


def _exception_matches(c: Classified, types: list[str], text: str) -> list[str]:
    problems = []
    raises, match = c.block.attrs.get("raises"), c.block.attrs.get("match")
    if raises and not any(t == raises or t.rsplit(".", 1)[-1] == raises for t in types):
        got = types[0] if types else "no exception"
        problems.append(f"expected {raises}, got {got}")
    if match and not re.search(match, text):
        problems.append(f"expected the failure to match {match!r}; it did not")
    return problems


# -- standalone python examples ------------------------------------------------------------------


def _print_statements(source: str) -> dict[int, ast.stmt]:
    """Map each source line to the innermost simple statement that covers it."""
    owners: dict[int, ast.stmt] = {}
    compound = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While, ast.If,
                ast.With, ast.AsyncWith, ast.Try, ast.Match)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and not isinstance(node, compound) and node.end_lineno is not None:
            for line in range(node.lineno, node.end_lineno + 1):
                current = owners.get(line)
                if current is None or (node.end_lineno - node.lineno) < ((current.end_lineno or 0) - current.lineno):
                    owners[line] = node
    return owners


def _expected_after(lines: list[str], end_lineno: int) -> tuple[list[tuple[str | None, str]], int]:
    """The ``#>`` lines right after a statement: ``(backend or None, text)`` and how many there are."""
    found: list[tuple[str | None, str]] = []
    index = end_lineno  # 0-based index of the line after the statement
    while index < len(lines):
        m = OUTPUT_LINE.match(lines[index])
        if not m:
            break
        found.append((m.group("backend"), m.group("text") or ""))
        index += 1
    return found, index - end_lineno


def normalise_print(text: str) -> str:
    return re.sub(r"0x[0-9a-fA-F]{6,}", "0x...", text)


def check_prints(block: Block, prints: list[list[Any]], backend: str) -> tuple[list[str], dict[str, Any]]:
    """Compare recorded prints with the ``#>`` comments; return problems and the rewrite data."""
    source = block.content
    lines = source.split("\n")
    owners = _print_statements(source)
    actual: dict[int, list[str]] = {}
    for line, text in prints:
        stmt = owners.get(line)
        if stmt is None or stmt.end_lineno is None:
            continue
        printed = normalise_print(text).rstrip("\n").split("\n") if text.rstrip("\n") or text else [""]
        actual.setdefault(stmt.end_lineno, []).extend(printed)
    documented: dict[int, list[tuple[str | None, str]]] = {}
    for stmt in {id(s): s for s in owners.values()}.values():
        if stmt.end_lineno is not None:
            found, _ = _expected_after(lines, stmt.end_lineno)
            if found:
                documented[stmt.end_lineno] = found
    problems: list[str] = []
    rewrite: dict[str, Any] = {}
    for end in sorted(set(actual) | set(documented)):
        expected = [normalise_print(t) for b, t in documented.get(end, []) if b in (None, backend)]
        got = [line.rstrip() for line in actual.get(end, [])]
        stmt_line = block.page_line(end)
        indent = re.match(r"\s*", lines[end - 1]).group(0) if end - 1 < len(lines) else ""  # type: ignore[union-attr]
        rewrite[str(end)] = {"indent": indent, "lines": got}
        if [e.rstrip() for e in expected] != got:
            diff = "\n".join(
                difflib.unified_diff(
                    ["#> " + e for e in expected], ["#> " + g for g in got],
                    fromfile=f"{block.rel}:{stmt_line + 1} (documented)", tofile=f"printed on {backend}", lineterm="",
                )
            )
            what = "printed output is not documented" if not expected else "printed output differs from the #> comments"
            problems.append(f"{block.rel}:{stmt_line}: {what}\n{diff}")
    return problems, rewrite


def run_python(c: Classified, backend: str, database_url: str, workdir: Path, site: SiteConfig
               ) -> tuple[list[str], list[str], dict[str, Any]]:
    """Run a standalone example in a fresh interpreter; check the expected failure and the prints.

    Returns (problems, print drift problems, rewrite data for --update-docs)."""
    block = c.block
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / f"{Path(block.rel).stem.replace('-', '_')}_line{block.line}.py"
    script.write_text(block.content, encoding="utf-8")
    result_file = workdir / "result.json"
    proc = _run([sys.executable, str(HARNESS_DIR / "_run_example.py"), str(script), str(result_file)], workdir,
                subprocess_env(site, database_url))
    files = {str(script): block, script.name: block}
    if not result_file.exists():
        return [f"{block.where}: the example did not finish (exit {proc.returncode})\n"
                f"{_map_paths(proc.stdout + proc.stderr, files)}"], [], {}
    outcome = json.loads(result_file.read_text(encoding="utf-8"))
    print_problems, rewrite = check_prints(block, outcome["prints"], backend)
    problems: list[str] = []
    exc = outcome["exception"]
    if c.expect_fail:
        if exc is None:
            problems.append(f"{block.where}: documented to fail (expect=\"fail\") but it ran without an exception")
        else:
            mismatch = _exception_matches(c, exc["types"], f"{exc['types'][0]}: {exc['message']}")
            if mismatch:
                problems.append(f"{block.where}: " + "; ".join(mismatch) + "\n" + _map_paths(exc["traceback"], files))
    elif exc is not None:
        problems.append(f"{block.where}: the example raised\n{_map_paths(exc['traceback'], files)}")
    return problems, print_problems, rewrite


# -- page projects -------------------------------------------------------------------------------


def write_project(files: list[Classified], target: Path) -> dict[str, Block]:
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, Block] = {}
    for c in files:
        path = target / c.block.title
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(c.block.content, encoding="utf-8")
        written[c.block.title] = c.block
        written[str(path)] = c.block
    return written


def project_problems(files: list[Classified]) -> list[str]:
    """Structural problems of a project: duplicate titles, no test file."""
    problems = []
    titles: dict[str, Block] = {}
    for c in files:
        if c.block.title in titles:
            problems.append(f"{c.block.where}: {c.block.title} is already defined at {titles[c.block.title].where} "
                            'in the same project (use project="name" for a second project)')
        titles[c.block.title] = c.block
    if not any(is_test_file(c.block.title) for c in files):
        first = files[0].block
        problems.append(f"{first.where}: project {files[0].project!r} has no test file (title=\"test_*.py\"), "
                        "so nothing would run it")
    return problems


def _block_file(case: ET.Element, known: set[str]) -> str:
    """The project file a junit testcase belongs to: its own file, or, for a test imported into a
    module (``from plugin.tests import test_x``, defined elsewhere), the module that collected it."""
    file = case.get("file", "")
    if file in known:
        return file
    parts = (case.get("classname") or "").split(".")
    for n in range(len(parts), 0, -1):
        candidate = "/".join(parts[:n]) + ".py"
        if candidate in known:
            return candidate
    return file


def run_project(files: list[Classified], backend: str, database_url: str, workdir: Path, site: SiteConfig) -> list[str]:
    """Run the page project with real pytest and check every test file block's outcome."""
    problems = project_problems(files)
    if problems:
        return problems
    project_dir = workdir / "project"
    written = write_project(files, project_dir)
    junit, exceptions = workdir / "junit.xml", workdir / "exceptions.json"
    env = subprocess_env(site, database_url)
    env["DOCVAL_EXCEPTIONS"] = str(exceptions)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "_docval_plugin",
           f"--junitxml={junit}", "-o", "junit_family=xunit1", "--tb=short", "-rA"]
    proc = _run(cmd, project_dir, env)
    log = _map_paths(proc.stdout + proc.stderr, written)
    if not junit.exists():
        return [f"{files[0].block.where}: pytest did not run the project (exit {proc.returncode})\n{log}"]
    records = json.loads(exceptions.read_text(encoding="utf-8")) if exceptions.exists() else []
    by_key = {(r["file"], str(r["line"]), r["name"]): r for r in records}
    known = {c.block.title for c in files}
    cases: dict[str, list[ET.Element]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        cases.setdefault(_block_file(case, known), []).append(case)
    for file, elements in cases.items():
        if file not in known:
            for case in elements:
                for bad in list(case.findall("failure")) + list(case.findall("error")):
                    problems.append(f"{files[0].block.where}: {case.get('classname')}::{case.get('name')} "
                                    f"failed outside any block\n{_map_paths(bad.text or '', written)}")
    for c in files:
        if not is_test_file(c.block.title):
            continue
        block = c.block
        mine = cases.get(block.title, [])
        if not mine:
            problems.append(f"{block.label}: pytest collected no test from this block (exit {proc.returncode})\n{log}")
            continue
        for case in mine:
            name = case.get("name", "")
            line = int(case.get("line") or 0) + 1 if case.get("file") == block.title else 1  # imported: the block
            where = f"{block.rel}:{block.page_line(line)} [{block.title}::{name}]"
            bad = case.findall("failure") + case.findall("error")
            skipped = case.findall("skipped")
            detail = "\n".join(_map_paths(b.text or b.get("message", ""), written) for b in bad)
            if c.expect_fail:
                if not bad:
                    state = "was skipped" if skipped else "passed"
                    problems.append(f"{where}: documented to fail (expect=\"fail\") but it {state}")
                    continue
                record = by_key.get((case.get("file", ""), case.get("line", ""), name), {})
                text = "\n".join([record.get("message", ""), record.get("text", ""), detail,
                                  *(b.get("message", "") for b in bad)])
                mismatch = _exception_matches(c, record.get("types", []), text)
                if mismatch:
                    problems.append(f"{where}: failed, but not as documented: {'; '.join(mismatch)}\n{detail}")
            elif bad:
                problems.append(f"{where}: failed\n{detail}")
            elif skipped:
                problems.append(f"{where}: was skipped ({skipped[0].get('message', '')}); documented tests must run")
    if proc.returncode not in (0, 1) and not problems:
        problems.append(f"{files[0].block.where}: pytest exited with {proc.returncode}\n{log}")
    return problems


# -- terminal output -----------------------------------------------------------------------------

_HEADER = re.compile(r"^(platform |cachedir:|rootdir:|configfile:|plugins:|asyncio: |Using --randomly-seed|"
                     r"hypothesis profile|testpaths:|timeout: |timeout method:|timeout func_only:)")


def normalise_terminal(text: str, project_dir: Path | None = None) -> list[str]:
    """Make pytest output comparable: no environment header lines, timings, paths or widths."""
    if project_dir is not None:
        text = text.replace(str(project_dir) + os.sep, "").replace(str(project_dir), ".")
    out = []
    for line in text.replace("\r", "").split("\n"):
        line = line.rstrip()
        if _HEADER.match(line):
            continue
        line = re.sub(r" in \d+(\.\d+)?s( \(\d+:\d\d:\d\d\))?", " in <T>s", line)
        line = re.sub(r"0x[0-9a-fA-F]{6,}", "0x...", line)
        line = re.sub(r"/\S*/site-packages/", "<site-packages>/", line)
        line = re.sub(
            r"^([=_-])\1{2,} ?(.*?) ?\1{3,}$", lambda m: f"{m.group(1) * 3} {m.group(2)} {m.group(1) * 3}", line
        )
        line = re.sub(r"^([=_-])\1{5,}$", lambda m: m.group(1) * 3, line)
        out.append(re.sub(r"\s+", " ", line))
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return out


def run_output(c: Classified, files: list[Classified], backend: str, database_url: str, workdir: Path,
               site: SiteConfig) -> tuple[list[str], str | None]:
    """Run the page project as the reader would and compare with the documented terminal output."""
    block = c.block
    if not files:
        return [f"{block.label}: output=\"pytest\" but the page has no project {c.project!r}"], None
    project_dir = workdir / "output-project"
    written = write_project(files, project_dir)
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
        *shlex.split(block.attrs.get("args", "")),
    ]
    proc = _run(cmd, project_dir, subprocess_env(site, database_url))
    raw = (proc.stdout + proc.stderr).replace(str(project_dir) + os.sep, "").replace(str(project_dir), ".")
    got = normalise_terminal(raw)
    expected = normalise_terminal(block.content)
    if got == expected:
        return [], None
    diff = "\n".join(difflib.unified_diff(expected, got, fromfile=f"{block.label} (documented, normalised)",
                                          tofile=f"pytest {block.attrs.get('args', '')} on {backend}", lineterm=""))
    del written
    return [f"{block.label}: terminal output differs from a real run\n{diff}"], raw.rstrip("\n") + "\n"


# -- sql -----------------------------------------------------------------------------------------


def run_sql(c: Classified, backend: str, database_url: str) -> list[str]:
    block = c.block
    try:
        if backend == "sqlite":
            path = re.sub(r"^sqlite:///", "", database_url)
            with sqlite3.connect(path) as conn:
                conn.executescript(block.content)
        else:
            asyncio.run(_run_pg(database_url, block.content))
    except Exception as exc:  # noqa: BLE001 - the driver's error is the report
        return [f"{block.label}: {type(exc).__name__}: {exc}"]
    return []


async def _run_pg(url: str, sql: str) -> None:
    import asyncpg

    url = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# -- static checks -------------------------------------------------------------------------------

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


def static_problems(c: Classified, site: SiteConfig) -> list[str]:
    """Checks that need no database: shell programs, parsing, source drift."""
    problems = check_source(c.block, site)
    if c.action is Action.SHELL:
        problems += check_shell(c, site)
    if c.action is Action.PARSED or (c.action is Action.PROJECT and c.block.lang in ("toml", "ini", "cfg")):
        problems += check_parsed(c)
    return problems
