"""Browser checks of the built docs site: search, error-code links, screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dataflow import _catalog

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PAGE = "guide/fixture-patterns/"
ERROR_CODES = list(_catalog.CATALOG)


def _open(page, url: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"


def _search_result_pages(page, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Type ``query`` into the search box; return the page URLs of the results, best first."""
    # At 1280 px the search label is hidden: click the input itself.
    box = page.locator("input.md-search__input")
    box.click()
    box.fill("")
    box.type(query, delay=20)
    items = page.locator("li.md-search-result__item")
    items.first.wait_for(state="visible", timeout=10_000)
    pages: list[str] = []
    for i in range(items.count()):
        href = items.nth(i).locator("a.md-search-result__link").first.get_attribute("href") or ""
        url = href.split("?")[0].split("#")[0]
        if url not in pages:
            pages.append(url)
    return pages


@pytest.mark.parametrize("query", ["fixture", "cleanup", "pytest"])
def test_search_finds_fixture_patterns(page, site_url: str, query: str) -> None:  # type: ignore[no-untyped-def]
    _open(page, site_url)
    pages = _search_result_pages(page, query)
    top3 = pages[:3]
    assert any(url.endswith(FIXTURE_PAGE) for url in top3), (
        f"search {query!r}: {FIXTURE_PAGE} not among the first 3 result pages: {top3}"
    )


def _sampled_codes(codes: list[str]) -> list[str]:
    """The first, the middle and the last code of the page.

    A fresh load of the errors page is the slow part of these tests (the page is about 1 MB), so
    the fresh-load check runs for a section at the top, in the middle and at the end of the page;
    every code is checked on one loaded page below.
    """
    return sorted({codes[0], codes[len(codes) // 2], codes[-1]})


#: Goes to each ``base#anchor`` on the loaded page, as following the link does (a same-document
#: navigation), and waits up to 5 s for the scroll; returns, per anchor, what the heading shows: how
#: many ``<h2 id=anchor>`` there are, the first one's text and its top (relative to the viewport).
_VISIT_ANCHORS = """async ([base, anchors]) => {
    const seen = {};
    for (const anchor of anchors) {
        location.href = base + "#" + anchor;
        const until = performance.now() + 5000;
        let headings = [];
        for (;;) {
            await new Promise(resolve => requestAnimationFrame(() => resolve()));
            headings = document.querySelectorAll(`h2[id='${anchor}']`);
            const top = headings.length ? headings[0].getBoundingClientRect().top : -1;
            if ((top >= 0 && top < innerHeight) || performance.now() > until) break;
        }
        seen[anchor] = {count: headings.length, text: headings.length ? headings[0].innerText : "",
                        top: headings.length ? headings[0].getBoundingClientRect().top : null,
                        height: innerHeight};
    }
    return seen;
}"""


def _heading_in_view(page, anchor: str) -> str | None:  # type: ignore[no-untyped-def]
    """Why the one ``<h2 id=anchor>`` naming its code is not in the viewport, or ``None`` when it is."""
    heading = page.locator(f"h2[id='{anchor}']")
    if heading.count() != 1:
        return f"{heading.count()} <h2 id={anchor!r}> on the page"
    heading.wait_for(state="visible")
    code = anchor.upper()
    if code not in heading.inner_text():
        return f"<h2 id={anchor!r}> does not name {code}: {heading.inner_text()!r}"
    box = heading.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    # Scrolled to: the heading sits in the viewport (just below the sticky header).
    if not 0 <= box["y"] < viewport["height"]:
        return f"#{anchor}: heading at y={box['y']}, not in the viewport"
    return None


@pytest.mark.parametrize("code", _sampled_codes(ERROR_CODES))
def test_error_link_opens_on_its_section(
    page,
    site_root_url: str,
    site_url: str,
    code: str,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """The link an error prints, opened in a new browser tab, lands on the code's section."""
    monkeypatch.setenv("DATAFLOW_DOCS_URL", site_root_url)  # the versioned site; the link adds the version
    url = _catalog.error_url(code)
    anchor = code.lower()
    assert url == f"{site_url}troubleshooting/errors/#{anchor}"
    _open(page, url)
    problem = _heading_in_view(page, anchor)
    assert problem is None, f"{url}: {problem}"


def test_every_error_link_reaches_its_section(
    page,
    site_root_url: str,
    site_url: str,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Every code's link: on the loaded errors page, going to its anchor shows its section."""
    monkeypatch.setenv("DATAFLOW_DOCS_URL", site_root_url)
    base = f"{site_url}troubleshooting/errors/"
    _open(page, base)
    problems = []
    anchors = []
    for code in ERROR_CODES:
        url = _catalog.error_url(code)
        if url != f"{base}#{code.lower()}":
            problems.append(f"{code}: error_url() is {url}")
        else:
            anchors.append(code.lower())
    for anchor, seen in page.evaluate(_VISIT_ANCHORS, [base, anchors]).items():
        if seen["count"] != 1:
            problems.append(f"{base}#{anchor}: {seen['count']} <h2 id={anchor!r}> on the page")
        elif anchor.upper() not in seen["text"]:
            problems.append(f"{base}#{anchor}: <h2 id={anchor!r}> does not name {anchor.upper()}: {seen['text']!r}")
        elif not 0 <= seen["top"] < seen["height"]:
            problems.append(f"{base}#{anchor}: heading at y={seen['top']}, not in the viewport")
    assert not problems, "\n".join(problems)


def test_screenshot_quick_start(page, site_url: str, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _open(page, site_url)
    heading = page.locator("h2[id='quick-start-in-30-seconds']")
    heading.wait_for(state="visible")
    heading.scroll_into_view_if_needed()
    target = artifacts_dir / "quick-start.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    assert page.console_errors == []


def test_screenshot_troubleshooting_section(page, site_url: str, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _open(page, f"{site_url}troubleshooting/errors/#df-504")
    page.locator("h2[id='df-504']").wait_for(state="visible")
    target = artifacts_dir / "troubleshooting-df-504.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000
    assert page.console_errors == []


def test_site_url_matches_the_catalog() -> None:
    import yaml

    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    assert config["site_url"] == _catalog.DOCS_BASE_URL


def test_errors_page_has_one_section_per_code() -> None:
    """Static check (no browser): one ``## DF-nnn: <title> {#df-nnn}`` heading per catalog code."""
    text = (REPO / "docs" / "troubleshooting" / "errors.md").read_text()
    headings = re.findall(r"^## (DF-\d{3}): (.+?) \{#(df-\d{3})\}$", text, flags=re.MULTILINE)
    assert [code for code, _title, _anchor in headings] == ERROR_CODES
    for code, title, anchor in headings:
        info = _catalog.CATALOG[code]
        assert (title, anchor) == (info.title, info.anchor)
