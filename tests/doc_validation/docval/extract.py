"""Extract every fenced code block of a docs page, the way the site build sees it.

Snippet includes (``--8<--``) are expanded with pymdownx's own preprocessor, configured from
``mkdocs.yml``; every expanded line keeps the page line it came from (an included file's lines map to
the include line). Blocks are found with markdown-it-py. Python-Markdown containers that CommonMark
does not know (admonitions, content tabs, details: ``!!!``, ``???``, ``===``) have their marker line
blanked, so their indented body becomes an indented code block that is parsed again, recursively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown
import yaml
from markdown_it import MarkdownIt
from pymdownx.snippets import SnippetPreprocessor

FRONT_MATTER = re.compile(r"^-{3}[ \t]*\n(.*?\n)(?:\.{3}|-{3})[ \t]*\n", re.S)
#: ``<!-- project-files: examples/models.py examples/conftest.py -->`` (optionally ``project="name"``
#: before the colon): repository files that join a page project without being shown again.
PROJECT_FILES = re.compile(r"^[ \t]*<!--\s*project-files(?P<attrs>[^:]*):(?P<files>.*?)-->[ \t]*$")
PROJECT_FILE_LANG = {".py": "python", ".ini": "ini", ".toml": "toml", ".cfg": "ini"}
CONTAINER_MARKER = re.compile(r"^[ \t]*(?:!!!|\?\?\?\+?|===\+?|///)(?:[ \t]|$)")


class _TolerantLoader(yaml.SafeLoader):
    """Loads mkdocs.yml, whose ``!!python/name:`` and ``!ENV`` tags a safe loader rejects."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TolerantLoader.add_multi_constructor("!", _any_tag)
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _any_tag)


def load_yaml(text: str) -> Any:
    """Parse YAML that may hold mkdocs' custom tags (their values are kept as plain data)."""
    return yaml.load(text, Loader=_TolerantLoader)  # noqa: S506 - the loader is a SafeLoader


@dataclass(frozen=True)
class SiteConfig:
    """What the harness needs from mkdocs.yml."""

    config_file: Path
    docs_dir: Path
    snippet_options: dict[str, Any]
    markdown_extensions: list[Any]

    @property
    def root(self) -> Path:
        """The directory mkdocs runs from (base paths are relative to it)."""
        return self.config_file.parent


def load_site_config(config_file: Path) -> SiteConfig:
    """Read mkdocs.yml: docs_dir and the pymdownx.snippets options (required: the docs use them)."""
    data = load_yaml(config_file.read_text(encoding="utf-8")) or {}
    options: dict[str, Any] | None = None
    for entry in data.get("markdown_extensions") or []:
        if isinstance(entry, str) and entry == "pymdownx.snippets":
            options = {}
        elif isinstance(entry, dict) and "pymdownx.snippets" in entry:
            options = dict(entry["pymdownx.snippets"] or {})
    if options is None:
        raise ValueError(f"{config_file}: pymdownx.snippets is not enabled in markdown_extensions")
    docs_dir = config_file.parent / data.get("docs_dir", "docs")
    return SiteConfig(config_file=config_file.resolve(), docs_dir=docs_dir.resolve(), snippet_options=options,
                      markdown_extensions=list(data.get("markdown_extensions") or []))


def _snippet_preprocessor(site: SiteConfig) -> SnippetPreprocessor:
    options = dict(site.snippet_options)
    base = options.get("base_path", ["."])
    base = [base] if isinstance(base, str) else list(base)
    options["base_path"] = [str(site.root / b) for b in base]
    md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": options})
    pre = md.preprocessors["snippet"]
    assert isinstance(pre, SnippetPreprocessor)
    return pre


@dataclass
class Expanded:
    """A page after snippet expansion: lines, and for each the 1-based page line it came from."""

    lines: list[str]
    origin: list[int]
    from_snippet: list[bool]


def expand_snippets(text: str, site: SiteConfig, first_line: int = 1) -> Expanded:
    """Expand ``--8<--`` includes chunk by chunk with pymdownx, so each result line has a source line."""
    pre = _snippet_preprocessor(site)
    pre.seen, pre.bases, pre.failed = set(), None, set()
    lines = text.split("\n")
    out = Expanded([], [], [])
    i = 0
    while i < len(lines):
        start = i
        m = pre.RE_ALL_SNIPPETS.match(lines[i])
        if m and not m.group("escape") and m.group("block_marker"):
            i += 1
            while i < len(lines):
                m2 = pre.RE_ALL_SNIPPETS.match(lines[i])
                i += 1
                if m2 and not m2.group("escape") and m2.group("block_marker"):
                    break
        else:
            i += 1
        chunk = lines[start:i]
        result = pre.parse_snippets(chunk)
        is_include = result != chunk
        out.lines.extend(result)
        out.origin.extend(
            [first_line + start] * len(result) if is_include else range(first_line + start, first_line + i)
        )
        out.from_snippet.extend([is_include] * len(result))
    return out


@dataclass
class Block:
    """One fenced code block of a page."""

    page: Path  # absolute path of the .md file
    rel: str  # page path relative to the site root (mkdocs.yml dir), e.g. "docs/guide/fixtures.md"
    line: int  # page line of the opening fence
    info: str  # the raw info string
    content: str
    content_lines: list[int]  # page line of each content line
    from_snippet: bool  # some content comes from an included file
    fence_indent: str  # leading whitespace of the fence line in the page (for rewriting)
    fenced: bool = True  # False: an indented code block (never valid in our docs)
    attrs: dict[str, str] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    lang: str = ""

    @property
    def where(self) -> str:
        """``page.md:LINE`` for messages."""
        return f"{self.rel}:{self.line}"

    @property
    def title(self) -> str:
        return self.attrs.get("title", "")

    @property
    def label(self) -> str:
        """``page.md:LINE [title]``: how failures name a block."""
        return f"{self.where} [{self.title}]" if self.title else self.where

    def page_line(self, content_line: int) -> int:
        """The page line of a 1-based line of the block's content."""
        if not self.content_lines:
            return self.line
        index = min(max(content_line, 1), len(self.content_lines)) - 1
        return self.content_lines[index]


_MD = MarkdownIt("commonmark")


def _blank_container_markers(lines: list[str]) -> tuple[list[str], set[int]]:
    """Blank ``!!! note`` / ``=== "Tab"`` lines; return the new lines and the blanked indexes."""
    new, blanked = [], set()
    in_fence: str | None = None
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        fence = re.match(r"(`{3,}|~{3,})", stripped)
        if in_fence is None and fence:
            in_fence = fence.group(1)
        elif in_fence is not None and stripped.startswith(in_fence) and not stripped[len(in_fence):].strip():
            in_fence = None
        elif in_fence is None and CONTAINER_MARKER.match(line):
            new.append("")
            blanked.add(index)
            continue
        new.append(line)
    return new, blanked


def _collect(
    lines: list[str], origin: list[int], snippet: list[bool], page_lines: list[str], page: Path, rel: str,
    out: list[Block],
) -> None:
    work, blanked = _blank_container_markers(lines)
    tokens = _MD.parse("\n".join(work))
    for token in tokens:
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        first, last = token.map
        if token.type == "code_block":
            before = first - 1
            while before >= 0 and not work[before].strip() and before not in blanked:
                before -= 1
            if before in blanked:
                body = token.content.rstrip("\n").split("\n")
                _collect(body, origin[first:last], snippet[first:last], page_lines, page, rel, out)
                continue
            content_range = range(first, last)
            info, fenced = "", False
        else:
            count = len(token.content.split("\n")) - 1 if token.content else 0
            content_range = range(first + 1, first + 1 + count)
            info, fenced = token.info.strip(), True
        fence_line = origin[first]
        page_text = page_lines[fence_line - 1] if 0 < fence_line <= len(page_lines) else ""
        out.append(
            Block(
                page=page,
                rel=rel,
                line=fence_line,
                info=info,
                content=token.content,
                content_lines=[origin[i] for i in content_range if i < len(origin)],
                from_snippet=any(snippet[i] for i in content_range if i < len(snippet)) or snippet[first],
                fence_indent=page_text[: len(page_text) - len(page_text.lstrip())],
                fenced=fenced,
            )
        )


def page_text_without_front_matter(text: str) -> tuple[str, int]:
    """Drop YAML front matter as mkdocs does; return the body and the page line it starts on."""
    m = FRONT_MATTER.match(text)
    if not m:
        return text, 1
    return text[m.end():], text[: m.end()].count("\n") + 1


def extract_blocks(page: Path, site: SiteConfig) -> list[Block]:
    """Every code block of ``page`` (fenced or indented), with attributes parsed."""
    from .grammar import parse_info  # local import: the grammar depends on Block

    text = page.read_text(encoding="utf-8")
    body, first_line = page_text_without_front_matter(text)
    expanded = expand_snippets(body, site, first_line)
    blocks: list[Block] = []
    rel = page.relative_to(site.root).as_posix()
    _collect(expanded.lines, expanded.origin, expanded.from_snippet, text.split("\n"), page, rel, blocks)
    blocks += project_file_blocks(page, rel, text, site, blocks)
    for block in blocks:
        parse_info(block)
    blocks.sort(key=lambda b: b.line)
    return blocks


class ProjectFilesError(ValueError):
    """A ``project-files`` directive that names no file, a missing file or an unknown kind of file."""


def project_file_blocks(page: Path, rel: str, text: str, site: SiteConfig, fenced: list[Block]) -> list[Block]:
    """One project-file block per file named by a ``project-files`` directive of the page.

    The files are shown elsewhere (usually included on the page that introduces them); the directive
    lets another page's project build on them, so the reader is pointed there instead of reading a
    second copy. Each file keeps its name as its title and maps every line to the directive line.
    """
    inside = {line for b in fenced for line in range(b.line, (b.content_lines[-1] if b.content_lines else b.line) + 2)}
    result: list[Block] = []
    for number, line in enumerate(text.split("\n"), start=1):
        m = PROJECT_FILES.match(line)
        if not m or number in inside:
            continue
        attrs = m.group("attrs").strip()
        if attrs and not re.fullmatch(r'project="[^"]+"', attrs):
            raise ProjectFilesError(f'{rel}:{number}: project-files takes only project="name" before the colon')
        names = m.group("files").split()
        if not names:
            raise ProjectFilesError(f"{rel}:{number}: project-files names no file")
        for name in names:
            path = site.root / name
            lang = PROJECT_FILE_LANG.get(path.suffix)
            if lang is None:
                raise ProjectFilesError(f"{rel}:{number}: project-files: {name} is not a .py, .ini, .toml or .cfg file")
            if not path.is_file():
                raise ProjectFilesError(f"{rel}:{number}: project-files: {name} does not exist")
            content = path.read_text(encoding="utf-8")
            extra = f" {attrs}" if attrs else ""
            result.append(Block(page=page, rel=rel, line=number, info=f'{{.{lang} title="{path.name}"{extra}}}',
                                content=content, content_lines=[number] * len(content.split("\n")),
                                from_snippet=True, fence_indent=""))
    return result


def find_pages(site: SiteConfig) -> list[Path]:
    """All Markdown pages of the docs dir, sorted."""
    return sorted(site.docs_dir.rglob("*.md"))
