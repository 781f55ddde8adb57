"""Page-level checks: forbidden placeholder phrases, DF- codes, links and anchors, the mkdocs build."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import markdown
from markdown_it import MarkdownIt

from .extract import Block, SiteConfig, page_text_without_front_matter

#: Forbidden anywhere in docs/ and README.md (case-insensitive, whole words).
FORBIDDEN_PHRASES = (
    "coming soon", "will be added", "to be added", "planned", "TODO", "TBD", "TBA", "FIXME", "XXX",
    "not yet implemented", "not implemented yet", "lorem ipsum", "work in progress", "WIP",
    "under construction",
)
FORBIDDEN = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in FORBIDDEN_PHRASES) + r")(?![\w-])",
    re.I,
)
ALLOW_MARKER = re.compile(r"<!--\s*allow-placeholder:(?P<reason>.*?)-->")
DF_CODE = re.compile(r"\bDF-\d{3}\b")


def placeholder_problems(path: Path, rel: str) -> list[str]:
    """Forbidden phrases with their line. ``<!-- allow-placeholder: reason -->`` covers the lines up to
    the next blank line (the reason is required)."""
    problems: list[str] = []
    allowed_until_blank = False
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        marker = ALLOW_MARKER.search(line)
        if marker:
            if not marker.group("reason").strip():
                problems.append(f"{rel}:{number}: allow-placeholder marker without a reason")
            allowed_until_blank = True
            continue
        if not line.strip():
            allowed_until_blank = False
            continue
        if allowed_until_blank:
            continue
        for m in FORBIDDEN.finditer(line):
            problems.append(f"{rel}:{number}: forbidden placeholder phrase {m.group(0)!r}: {line.strip()}")
    return problems


def load_catalog(site: SiteConfig) -> dict[str, object]:
    """``dataflow._catalog.CATALOG``, imported from the installed package (never read by file path, so
    a refactor of the module's layout changes nothing here)."""
    from dataflow._catalog import CATALOG

    return dict(CATALOG)


def code_problems(path: Path, rel: str, blocks: list[Block], catalog: dict[str, object]) -> list[str]:
    """Every DF- code mentioned on the page (prose, blocks, included files) exists in the catalog."""
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        for code in DF_CODE.findall(line):
            if code not in catalog:
                problems.append(f"{rel}:{number}: {code} is not in dataflow._catalog.CATALOG")
    for block in blocks:
        if block.from_snippet:
            for index, line in enumerate(block.content.split("\n"), start=1):
                for code in DF_CODE.findall(line):
                    if code not in catalog:
                        problems.append(f"{rel}:{block.page_line(index)}: {code} (included file) is not in the catalog")
    return problems


def catalog_section_problems(site: SiteConfig, catalog: dict[str, object]) -> list[str]:
    """Every catalog code has its ``{#df-nnn}`` section on its page."""
    problems = []
    for code, info in sorted(catalog.items()):
        page_url = str(info.page).strip("/")
        candidates = [site.docs_dir / f"{page_url}.md", site.docs_dir / page_url / "index.md"]
        page = next((p for p in candidates if p.exists()), None)
        if page is None:
            problems.append(f"{code}: its page {page_url}.md does not exist")
            continue
        anchor = code.lower()
        if not re.search(r"\{[^}]*#" + re.escape(anchor) + r"\b[^}]*\}", page.read_text(encoding="utf-8")):
            problems.append(f"{page.relative_to(site.root)}: no section with {{#{anchor}}} for {code}")
    return problems


# -- links and anchors ---------------------------------------------------------------------------

_MD = MarkdownIt("commonmark")


def page_anchors(path: Path, site: SiteConfig) -> set[str]:
    """Ids the rendered page defines, rendered with the site's own markdown_extensions (toc slugs,
    ``{#id}`` attributes, HTML ids)."""
    body, _ = page_text_without_front_matter(path.read_text(encoding="utf-8"))
    names, configs = [], {}
    for entry in site.markdown_extensions:
        name, config = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        config = dict(config or {})
        if name == "pymdownx.snippets":
            base = config.get("base_path", ["."])
            config["base_path"] = [str(site.root / b) for b in ([base] if isinstance(base, str) else base)]
        if name == "toc":
            config = {k: v for k, v in config.items() if k in ("permalink", "slugify", "separator")}
            config.pop("slugify", None)
        names.append(name)
        configs[name] = config
    html = markdown.markdown(body, extensions=names, extension_configs=configs)
    return set(re.findall(r"""\bid=["']([^"']+)["']""", html)) | set(re.findall(r"""\bname=["']([^"']+)["']""", html))


#: page_anchors() by (site config, page, size, mtime): rendering a page is the slow part of the
#: link check, and a page with many links into errors.md would otherwise render it once per link.
_ANCHORS: dict[tuple[Path, Path, int, int], set[str]] = {}


def _anchors_of(path: Path, site: SiteConfig) -> set[str]:
    stat = path.stat()
    key = (site.config_file, path, stat.st_size, stat.st_mtime_ns)
    anchors = _ANCHORS.get(key)
    if anchors is None:
        anchors = _ANCHORS[key] = page_anchors(path, site)
    return anchors


def link_problems(path: Path, site: SiteConfig) -> list[str]:
    """Relative links to pages exist; their ``#anchor`` exists on the target page."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    rel = path.relative_to(site.root).as_posix()
    problems = []
    for token in _MD.parse(text):
        if token.type != "inline" or not token.children or token.map is None:
            continue
        for child in token.children:
            href = child.attrs.get("href") if child.type == "link_open" else None
            if not isinstance(href, str) or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I) or href.startswith("//"):
                continue
            target, _, anchor = href.partition("#")
            dest = path if not target else (path.parent / target).resolve()
            line_no = next((token.map[0] + i + 1 for i, line in enumerate(lines[token.map[0]:token.map[1]])
                            if f"({href}" in line or href in line), token.map[0] + 1)
            if target and not target.endswith(".md"):
                if not dest.exists():
                    problems.append(f"{rel}:{line_no}: link target {href!r} does not exist")
                continue
            if not dest.exists():
                problems.append(f"{rel}:{line_no}: link to missing page {href!r}")
                continue
            if anchor:
                anchors = _anchors_of(dest, site)
                if anchor not in anchors:
                    problems.append(f"{rel}:{line_no}: broken anchor {href!r}: {dest.name} has no #{anchor}")
    return problems


def mkdocs_build(site: SiteConfig, out_dir: Path) -> tuple[int, str]:
    """``mkdocs build --strict`` into ``out_dir``; returns the exit code and the log."""
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(site.config_file), "-d", str(out_dir)],
        cwd=site.root, capture_output=True, text=True, timeout=900,
    )
    return proc.returncode, proc.stdout + proc.stderr
