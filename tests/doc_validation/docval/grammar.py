"""The grammar of fence attributes: parse a block's info string and resolve the block to exactly one
action from its language and attributes.

This is the only module that knows the attribute names and what they mean. The grammar is
documented for writers in ``docs/contributing/doc-blocks.md``; keep the two in step.
"""

from __future__ import annotations

import ast
import enum
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from _subprocess import DEV_ONLY_PLUGINS

from .extract import Block

BACKENDS = ("sqlite", "postgresql")

PYTHON = {"python", "py", "python3"}
SQL = {"sql"}
SHELL = {"bash", "sh", "shell", "console", "shell-session"}
PARSED = {"toml", "ini", "yaml", "yml", "json", "cfg"}
TEXT = {"text", "txt", "plain"}

#: Keys that superfences accepts in the shorthand form (```python title="x").
SHORTHAND_KEYS = {"title", "linenums", "hl_lines"}
#: Every key the harness understands (brace form only for anything not in SHORTHAND_KEYS).
KNOWN_KEYS = SHORTHAND_KEYS | {
    "project", "expect", "raises", "match", "backends", "reason", "skip", "output", "source", "args",
}
#: Titles of non-Python files that belong to a page's pytest project.
PROJECT_CONFIG_FILES = {"pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"}
#: output="name" blocks: the command run in the page project (the block's args= follow it).
OUTPUT_COMMANDS = {
    "pytest": ("-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *DEV_ONLY_PLUGINS),
    "dataflow": ("-m", "dataflow"),
}
ATTR = re.compile(r"""([A-Za-z_][\w-]*)=(?:"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'|(\S+))""")


class Action(enum.Enum):
    PYTHON = "python example"
    PROJECT = "project file"
    SQL = "sql"
    SHELL = "shell commands"
    OUTPUT = "terminal output"
    PARSED = "parsed config"
    TEXT = "text"
    SKIP = "skipped"
    INVALID = "unclassified"


@dataclass
class Classified:
    block: Block
    action: Action
    backends: tuple[str, ...] = BACKENDS
    project: str = "default"
    problems: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        return self.action in (Action.PYTHON, Action.SQL, Action.OUTPUT)

    @property
    def expect_fail(self) -> bool:
        return self.block.attrs.get("expect") == "fail"


def parse_info(block: Block) -> None:
    """Fill ``block.lang``, ``block.classes`` and ``block.attrs`` from the info string (case kept)."""
    info = block.info.strip()
    brace = info.startswith("{") and info.endswith("}")
    body = info[1:-1].strip() if brace else info
    attrs: dict[str, str] = {}
    for m in ATTR.finditer(body):
        value = next(g for g in m.groups()[1:] if g is not None)
        attrs[m.group(1)] = value.replace('\\"', '"').replace("\\'", "'")
    rest = ATTR.sub(" ", body).split()
    classes = [word[1:] for word in rest if word.startswith(".")]
    words = [word for word in rest if not word.startswith((".", "#"))]
    if brace:
        block.lang = classes[0].lower() if classes else ""
        block.classes = classes[1:]
        block.attrs = attrs
        if words:
            block.attrs["\0stray"] = " ".join(words)
    else:
        block.lang = words[0].lower() if words else ""
        block.classes = []
        block.attrs = attrs
        if len(words) > 1 or classes:
            block.attrs["\0stray"] = " ".join(words[1:] + ["." + c for c in classes])
        bad = sorted(set(attrs) - SHORTHAND_KEYS)
        if bad:
            block.attrs["\0shorthand"] = ", ".join(bad)


def _is_test_file(title: str) -> bool:
    name = PurePosixPath(title).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _top_level_tests(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        node.name for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    ]


def _uses_top_level_await(source: str) -> bool:
    """True when the source compiles only with top-level ``await`` allowed."""
    try:
        compile(source, "<block>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        try:
            compile(source, "<block>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        except SyntaxError:
            return False  # a real syntax error: reported when the block runs
        return "outside" in str(exc.msg) or "await" in str(exc.msg)
    return False


def classify(block: Block) -> Classified:
    """The one action of ``block``; ``Action.INVALID`` with the reasons when there is none."""
    attrs = block.attrs
    problems: list[str] = []
    result = Classified(block, Action.INVALID, problems=problems)
    if not block.fenced:
        problems.append("indented code block: use a fenced block with a language (```python ...)")
        return result
    stray, shorthand = attrs.get("\0stray"), attrs.get("\0shorthand")
    if stray:
        problems.append(f"unexpected words in the info string: {stray!r}")
    if shorthand:
        problems.append(
            f"{shorthand} without braces breaks rendering: write "
            f"```{{.{block.lang or 'lang'} key=\"value\"}}"
        )
    unknown = sorted(k for k in attrs if k not in KNOWN_KEYS and not k.startswith("\0"))
    if unknown:
        problems.append(f"unknown attribute(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}")
    if not block.lang:
        problems.append("no language: every block needs one (```text for plain text)")

    if "skip" in attrs:
        if not attrs["skip"].strip():
            problems.append('skip="" needs a reason: skip="why this block cannot run"')
        others = sorted(set(attrs) & {"expect", "raises", "match", "backends", "reason", "output", "args"})
        if others:
            problems.append(f"skip= cannot be combined with {', '.join(others)}")
        if not problems:
            result.action = Action.SKIP
        return result

    backends = tuple(b.strip() for b in attrs.get("backends", ",".join(BACKENDS)).split(",") if b.strip())
    bad_backends = sorted(set(backends) - set(BACKENDS))
    if bad_backends or not backends:
        problems.append(f"backends={attrs.get('backends')!r}: use a comma-separated subset of {', '.join(BACKENDS)}")
    elif set(backends) != set(BACKENDS) and not attrs.get("reason", "").strip():
        problems.append(f'backends="{attrs["backends"]}" needs reason="why it cannot run on the other backend"')
    if "reason" in attrs and "backends" not in attrs:
        problems.append('reason= is only for backends= (use skip="reason" to not run a block)')
    result.backends = tuple(b for b in BACKENDS if b in backends)

    expect = attrs.get("expect")
    if expect not in (None, "pass", "fail"):
        problems.append(f'expect="{expect}": use expect="fail" (or leave it out)')
    if expect == "fail" and not (attrs.get("raises") or attrs.get("match")):
        problems.append('expect="fail" needs raises="ExceptionClass" and/or match="regex" (e.g. match="DF-302")')
    if expect != "fail" and ("raises" in attrs or "match" in attrs):
        problems.append('raises=/match= only apply with expect="fail"')
    if "match" in attrs:
        try:
            re.compile(attrs["match"])
        except re.error as exc:
            problems.append(f"match= is not a valid regular expression: {exc}")

    lang, title = block.lang, block.title
    result.project = attrs.get("project", "default")
    action = Action.INVALID
    if lang in PYTHON and title:
        action = Action.PROJECT
        if not title.endswith(".py"):
            problems.append(f'a python block titled "{title}" must name a .py file of the page project')
        if expect == "fail" and not _is_test_file(title):
            problems.append('expect="fail" on a project file applies to test files (test_*.py) only')
    elif lang in PYTHON:
        action = Action.PYTHON
        if _uses_top_level_await(block.content):
            problems.append(
                "top-level await: pasted into a .py file this is a SyntaxError; put the code in "
                "`async def main():` and end the block with `asyncio.run(main())`"
            )
        tests = _top_level_tests(block.content)
        if tests:
            problems.append(
                f"defines {', '.join(tests)} but has no title, so pytest would never run it: "
                'give it a title (```{.python title="test_example.py"}) to make it part of the page project'
            )
    elif lang in SQL:
        action = Action.SQL
    elif lang in SHELL and attrs.get("output"):
        action = Action.OUTPUT
    elif lang in SHELL:
        action = Action.SHELL
    elif lang in TEXT and attrs.get("output"):
        action = Action.OUTPUT
    elif lang in TEXT:
        action = Action.TEXT
    elif lang in PARSED:
        is_project = PurePosixPath(title).name in PROJECT_CONFIG_FILES or "project" in attrs
        action = Action.PROJECT if is_project else Action.PARSED
    elif lang:
        problems.append(
            f'unknown language "{lang}": use one of python, sql, bash, console, toml, ini, yaml, json, text '
            'or skip="reason"'
        )
    if "output" in attrs and attrs["output"] not in OUTPUT_COMMANDS:
        problems.append(
            f'output="{attrs["output"]}": the terminal output the harness can reproduce is '
            + " or ".join(f'output="{name}"' for name in OUTPUT_COMMANDS)
        )
    if "args" in attrs and action is not Action.OUTPUT:
        problems.append('args= only applies to output="pytest" and output="dataflow" blocks')
    if "args" in attrs:
        try:
            shlex.split(attrs["args"])
        except ValueError as exc:
            problems.append(f"args= cannot be split: {exc}")
    if expect == "fail" and action not in (Action.PYTHON, Action.PROJECT):
        problems.append('expect="fail" applies to python examples and test files only')
    if "project" in attrs and action not in (Action.PROJECT, Action.OUTPUT):
        problems.append("project= applies to titled project files and output blocks only")
    if "backends" in attrs and action in (Action.SHELL, Action.PARSED, Action.TEXT):
        problems.append("backends= applies to blocks that run against a database")
    if not problems:
        result.action = action
    return result


def is_test_file(title: str) -> bool:
    """True for ``test_*.py`` / ``*_test.py`` (pytest's default patterns)."""
    return _is_test_file(title)
