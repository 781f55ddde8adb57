"""The versioned site (mike): a URL printed by an error opens the page of that release.

The build is the run's one strict build, deployed by mike as this release's minor version with the
``latest`` alias (tests/_site.py, scripts/versioned_docs.py).
"""

from __future__ import annotations

import re

import pytest

from dataflow import DataFlow, InvalidURLError
from dataflow._catalog import docs_version


def _printed_url(error: BaseException) -> str:
    """The ``Documentation: <url>`` line of a DataFlow error message, as a user reads it in a traceback."""
    match = re.search(r"^Documentation: (\S+)$", str(error), re.M)
    assert match, f"no Documentation: line in {error}"
    return match.group(1)


def test_printed_error_url_opens_its_section_in_this_release(  # type: ignore[no-untyped-def]
    page, site_root_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAFLOW_DOCS_URL", site_root_url)  # the published site, served here
    with pytest.raises(InvalidURLError) as caught:
        DataFlow("mysql://root@localhost/shop")
    url = _printed_url(caught.value)
    assert url == f"{site_root_url}{docs_version()}/troubleshooting/errors/#df-801"
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    heading = page.locator("h2[id='df-801']")
    heading.wait_for(state="visible")
    assert "DF-801" in heading.inner_text()
    assert page.url.startswith(f"{site_root_url}{docs_version()}/")


def test_latest_redirects_to_this_release(page, site_root_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site_root_url}latest/troubleshooting/errors/#df-301", wait_until="load")
    page.wait_for_url(re.compile(re.escape(f"{site_root_url}{docs_version()}/troubleshooting/errors/")))
    page.locator("h2[id='df-301']").wait_for(state="visible")


def test_site_root_opens_the_latest_release(page, site_root_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(site_root_url, wait_until="load")
    page.wait_for_url(re.compile(re.escape(f"{site_root_url}{docs_version()}/")))
    page.locator("h1").first.wait_for(state="visible")


def test_version_selector_shows_this_release(page, site_url: str) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(site_url, wait_until="load")
    assert response is not None and response.ok
    current = page.locator(".md-version__current")
    current.wait_for(state="visible", timeout=10_000)
    assert current.inner_text().strip().startswith(docs_version())  # then the alias: "0.1 latest"
    versions = page.locator(".md-version__link")
    assert any(versions.nth(i).inner_text().strip().startswith(docs_version()) for i in range(versions.count()))
