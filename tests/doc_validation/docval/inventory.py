"""Everything the harness will check, built once per process from mkdocs.yml and the page filter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .extract import Block, SiteConfig, extract_blocks, find_pages, load_site_config
from .grammar import Action, Classified, classify


@dataclass
class Case:
    """One runnable unit: a standalone block, an output block, or a whole page project."""

    kind: str  # "python" | "sql" | "output" | "project"
    page: str
    label: str
    members: list[Classified]
    backends: tuple[str, ...]

    @property
    def first(self) -> Classified:
        return self.members[0]


@dataclass
class Inventory:
    site: SiteConfig
    pages: list[Path]
    filtered: bool
    blocks: dict[Path, list[Block]] = field(default_factory=dict)
    classified: list[Classified] = field(default_factory=list)
    errors: dict[Path, str] = field(default_factory=dict)  # page -> extraction error (missing snippet...)

    def project_files(self, page: str, project: str, backend: str | None = None) -> list[Classified]:
        return [
            c for c in self.classified
            if c.action is Action.PROJECT and c.block.rel == page and c.project == project
            and (backend is None or backend in c.backends)
        ]

    def cases(self) -> list[Case]:
        result: list[Case] = []
        seen_projects: set[tuple[str, str]] = set()
        for c in self.classified:
            b = c.block
            if c.action is Action.PYTHON:
                result.append(Case("python", b.rel, b.label, [c], c.backends))
            elif c.action is Action.SQL:
                result.append(Case("sql", b.rel, b.label, [c], c.backends))
            elif c.action is Action.OUTPUT:
                result.append(Case("output", b.rel, f"{b.label} output", [c], c.backends))
            elif c.action is Action.PROJECT and (b.rel, c.project) not in seen_projects:
                seen_projects.add((b.rel, c.project))
                files = self.project_files(b.rel, c.project)
                backends = tuple(x for x in ("sqlite", "postgresql") if any(x in f.backends for f in files))
                result.append(Case("project", b.rel, f"{b.where} project={c.project}", files, backends))
        return result


def build_inventory(config_file: Path, page_filter: list[str]) -> Inventory:
    site = load_site_config(config_file)
    pages = find_pages(site)
    if page_filter:
        wanted = {p.strip("/") for p in page_filter}
        pages = [p for p in pages if p.relative_to(site.docs_dir).as_posix() in wanted
                 or p.relative_to(site.root).as_posix() in wanted]
        missing = wanted - {p.relative_to(site.docs_dir).as_posix() for p in pages} - {
            p.relative_to(site.root).as_posix() for p in pages}
        if missing:
            raise ValueError(f"--docs-page: no such page under {site.docs_dir}: {', '.join(sorted(missing))}")
    inventory = Inventory(site=site, pages=pages, filtered=bool(page_filter))
    for page in pages:
        try:
            blocks = extract_blocks(page, site)
        except Exception as exc:  # noqa: BLE001 - e.g. SnippetMissingError: reported on the page item
            inventory.errors[page] = f"{type(exc).__name__}: {exc}"
            blocks = []
        inventory.blocks[page] = blocks
        inventory.classified.extend(classify(b) for b in blocks)
    return inventory
