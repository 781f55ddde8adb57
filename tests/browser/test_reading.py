"""The site as a reader meets it in Chromium at 1280 px: code that fits its box, shell blocks that copy
without prompts, previous / next links, the repository link, and search that finds error texts.

Every page of ``docs/`` is checked (the list comes from the Markdown files, so a new page is covered
without touching this file).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
CONFIG = yaml.load((REPO / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)


def _url_path(page: Path) -> str:
    """The site path of a docs page: ``index.md`` -> ``""``, ``a/b.md`` -> ``a/b/``."""
    rel = page.relative_to(DOCS).with_suffix("").as_posix()
    if rel == "index":
        return ""
    return rel.removesuffix("/index") + "/"


PAGES = sorted(_url_path(p) for p in DOCS.rglob("*.md"))
TROUBLESHOOTING = sorted((DOCS / "troubleshooting").glob("*.md"))
SHELL_LANGUAGES = ("bash", "sh", "shell", "console")

# A heading that starts with a backticked error text: "## `pool is closed` {#pool-is-closed}".
ERROR_HEADING = re.compile(r"^## `(?P<text>[^`]+)`.*\{#(?P<anchor>[\w-]+)\}\s*$")


def _error_sections() -> list[tuple[str, str, str]]:
    """(page path, error text, anchor) for every error-text heading of the troubleshooting pages."""
    found = []
    for page in TROUBLESHOOTING:
        if page.name == "errors.md":
            continue  # the DF- code index: searched by code, checked by test_site.py
        for line in page.read_text(encoding="utf-8").split("\n"):
            m = ERROR_HEADING.match(line)
            if m:
                found.append((_url_path(page), m.group("text"), m.group("anchor")))
    return found


ERROR_SECTIONS = _error_sections()


def _open(page, url: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"


def _overflowing(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Code blocks wider than their box: every line of a block must be visible at 1280 px."""
    wide = page.evaluate(
        """() => Array.from(document.querySelectorAll('.md-typeset pre > code'))
            .filter(code => code.scrollWidth > code.clientWidth + 1)
            .map(code => ({width: code.clientWidth, needed: code.scrollWidth,
                           line: code.innerText.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '')}))"""
    )
    return [f"code blocks wider than their box at 1280 px: {wide}"] if wide else []


def _footer_problems(page, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every page in the navigation links to the page before and after it (first and last: one side)."""
    previous = page.locator("a.md-footer__link--prev")
    following = page.locator("a.md-footer__link--next")
    if previous.count() + following.count() == 0:
        return ["no previous / next link"]
    problems = []
    if path == "" and following.count() != 1:
        problems.append("home: no link to the next page")
    for link in (previous, following):
        if link.count():
            href = link.first.get_attribute("href") or ""
            target = page.request.get(page.url.split("#")[0].rsplit("/", 1)[0] + "/" + href)
            if not target.ok:
                problems.append(f"footer link {href!r} is broken (HTTP {target.status})")
    return problems


def _copy_problems(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The copy button of every shell block puts commands on the clipboard, never a ``$`` prompt."""
    selector = ", ".join(f"div.language-{lang}" for lang in SHELL_LANGUAGES)
    blocks = page.locator(selector)
    problems = []
    for index in range(blocks.count()):
        block = blocks.nth(index)
        if not block.is_visible():
            # A block in a content tab that is not selected: select its tab first.
            block.evaluate(
                """el => { const set = el.closest('.tabbed-set'); if (!set) return;
                   const blocks = Array.from(set.querySelectorAll(':scope > .tabbed-content > .tabbed-block'));
                   const i = blocks.findIndex(b => b.contains(el));
                   set.querySelectorAll(':scope > input')[i].click(); }"""
            )
        block.scroll_into_view_if_needed()
        block.hover()
        block.locator("button.md-code__button[data-md-type='copy']").click()
        text = page.evaluate("navigator.clipboard.readText()")
        prompts = [line for line in text.split("\n") if re.match(r"^\s*(\([^)]*\) )?[$#>] ", line)]
        if prompts:
            problems.append(f"shell block {index + 1} copies prompts: {prompts}")
        if not text.strip():
            problems.append(f"the copy button of shell block {index + 1} copied nothing")
    return problems


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "home")
def test_every_page_reads_well(page, site_url: str, path: str) -> None:  # type: ignore[no-untyped-def]
    """One load of each page, three checks: no code block scrolls sideways at 1280 px and the page
    logs no error; previous / next links that work; shell blocks that copy without prompts."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url.rstrip("/"))
    _open(page, site_url + path)
    problems = _overflowing(page)
    problems += [f"the page logged errors: {page.console_errors}"] if page.console_errors else []
    problems += _footer_problems(page, path)
    problems += _copy_problems(page)
    assert problems == [], f"{path or 'home'}:\n" + "\n".join(problems)


def test_header_links_the_repository(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    _open(page, site_url)
    source = page.locator("header a.md-source")
    assert source.count() == 1, "no repository link in the header"
    assert source.get_attribute("href") == CONFIG["repo_url"]


@pytest.fixture(scope="module")
def search_page(browser, site_url: str):  # type: ignore[no-untyped-def]
    """The home page, loaded once for every search test of this module: the site's search index
    (about 1 MB) is built once, in the page's worker, as it is for a reader who searches again."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _open(page, site_url)
    try:
        yield page
    finally:
        context.close()


def _search(page, query: str):  # type: ignore[no-untyped-def]
    """Put ``query`` in the search box as one edit; return the first result item once it shows.

    The box is emptied first and the result list seen empty, so the item shown is the answer to
    ``query`` and not a leftover of the previous search or of a prefix of ``query``.
    """
    box = page.locator("input.md-search__input")
    items = page.locator("li.md-search-result__item")
    box.click()
    box.fill("")
    box.press("End")  # the theme searches on key-up
    items.first.wait_for(state="detached", timeout=10_000)
    box.fill(query)
    box.press("End")
    items.first.wait_for(state="visible", timeout=10_000)
    return items.first


@pytest.mark.parametrize(("path", "text", "anchor"), ERROR_SECTIONS, ids=[s[2] for s in ERROR_SECTIONS])
def test_search_for_an_error_text_opens_its_section_first(  # type: ignore[no-untyped-def]
    search_page, site_url: str, path: str, text: str, anchor: str
) -> None:
    """Typing an error message into the search box puts its troubleshooting section first."""
    first = _search(search_page, text)
    links = [
        (a.get_attribute("href") or "").split("?")[0] + "#" + (a.get_attribute("href") or "").partition("#")[2]
        for a in first.locator("a.md-search-result__link").all()
    ]
    best_page = links[0].split("#")[0]
    assert best_page == site_url + path, f"search {text!r}: first result is {best_page}, not {site_url + path}"
    sections = [link.partition("#")[2] for link in links[1:]]
    assert sections and sections[0] == anchor, f"search {text!r}: first section is {sections[:3]}, not #{anchor}"


@pytest.mark.parametrize("query", ["sessionmaker", "MissingGreenlet", "join_transaction_mode", "NullPool"])
def test_search_finds_the_sqlalchemy_page(search_page, site_url: str, query: str) -> None:  # type: ignore[no-untyped-def]
    """A reader coming from SQLAlchemy searches for its words and lands on the page written for them."""
    first = _search(search_page, query).locator("a.md-search-result__link").first
    href = (first.get_attribute("href") or "").split("?")[0].split("#")[0]
    assert href == f"{site_url}troubleshooting/sqlalchemy/", f"search {query!r}: first result is {href}"
