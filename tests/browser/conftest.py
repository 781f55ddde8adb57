"""Fixtures for the browser tests: a strict build of the docs site, a local server, Chromium.

The site is the run's one ``mkdocs build --strict``, published as a version with mike (the
``docs_site`` fixture, see tests/_site.py) and served from a thread on 127.0.0.1 with a free port:
``site_root_url`` is the versioned site, ``site_url`` this release's docs in it.

Chromium comes from the distribution (``apt-get install -y chromium``); Playwright never downloads
a browser here. Without ``/usr/bin/chromium`` the tests skip, except under ``CI=true``, where they
fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("DATAFLOW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INSTALL_HINT = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not found; install it with: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def built_site(docs_site):  # type: ignore[no-untyped-def]
    """The versioned build of this run (``docs_site``, from tests/_site.py); a failed build fails here."""
    if docs_site.returncode != 0:
        message = f"mkdocs build --strict failed (rc={docs_site.returncode}):\n{docs_site.log[-4000:]}"
        pytest.fail(message, pytrace=False)
    return docs_site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that drops a connection it no longer needs is not an error of the site."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def site_root_url(built_site) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """URL (ending in ``/``) of the whole versioned site, served on 127.0.0.1 with a free port."""
    handler = functools.partial(_QuietHandler, directory=str(built_site.root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def site_url(site_root_url: str, built_site) -> str:  # type: ignore[no-untyped-def]
    """URL (ending in ``/``) of this release's docs: ``<root>/<major.minor>/``."""
    return f"{site_root_url}{built_site.version}/"


# Module scope: Playwright's sync API keeps its event loop marked as running in this thread, which
# would break asyncio.run / pytest-asyncio in later tests on the same xdist worker.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless system Chromium driven by Playwright (sync API)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh 1280x900 page; console errors are collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``test-artifacts/`` at the repository root (gitignored), created on demand."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
