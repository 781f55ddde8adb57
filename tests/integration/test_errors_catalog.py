"""The error catalog against the exception classes, the docs page and the built site.

``dataflow._catalog.CATALOG`` is the single source of truth: every code has exactly one exception
class, a ``## DF-nnn: Title {#df-nnn}`` section on its page, an element with that id in the built
HTML, and a link that follows ``DATAFLOW_DOCS_URL``. Codes are stable: ``PUBLISHED`` below lists
every code ever released with its class, and a code may be retired but never removed or reused.
(That every code is also *raised* for real is checked by ``test_errors_triggered.py``.)
"""

from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import dataflow
from dataflow import _errors
from dataflow._catalog import CATALOG, DOCS_BASE_URL, ERRORS_PAGE, docs_base_url, docs_version, error_url

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

#: Every code ever published, with its exception class. Append new codes; never edit or delete a line.
PUBLISHED: dict[str, str] = {
    "DF-101": "MissingFieldError",
    "DF-102": "UnknownFieldError",
    "DF-103": "TypeMismatchError",
    "DF-104": "InvalidModelError",
    "DF-105": "InvalidParameterError",
    "DF-106": "SchemaMismatchError",
    "DF-201": "UnknownOperatorError",
    "DF-202": "InvalidFilterError",
    "DF-301": "RecordNotFoundError",
    "DF-302": "UniqueViolationError",
    "DF-303": "ConstraintViolationError",
    "DF-304": "MultipleRecordsError",
    "DF-305": "InvalidConflictTargetError",
    "DF-401": "UnknownNodeTypeError",
    "DF-402": "DuplicateNodeIdError",
    "DF-403": "WorkflowCycleError",
    "DF-404": "DanglingConnectionError",
    "DF-405": "ConnectionPathError",
    "DF-406": "NodeExecutionError",
    "DF-407": "AmbiguousNodeTypeError",
    "DF-408": "InvalidConditionError",
    "DF-409": "UnknownNodeIdError",
    "DF-501": "ServerUnavailableError",
    "DF-502": "AuthenticationError",
    "DF-503": "DatabaseNotFoundError",
    "DF-504": "PoolClosedError",
    "DF-505": "EventLoopClosedError",
    "DF-506": "WrongEventLoopError",
    "DF-507": "StalePoolWarning",
    "DF-508": "TooManyConnectionsError",
    "DF-509": "PoolTimeoutError",
    "DF-510": "DatabaseLockedError",
    "DF-511": "ConnectionLostError",
    "DF-512": "DatabaseError",
    "DF-520": "ReplicasUnavailableWarning",
    "DF-521": "CacheUnavailableWarning",
    "DF-522": "CacheAuthenticationWarning",
    "DF-523": "CacheRejectedWarning",
    "DF-601": "TransactionError",
    "DF-602": "SerializationFailureError",
    "DF-603": "TransactionTimeoutError",
    "DF-604": "InvalidTransactionOptionError",
    "DF-605": "InvalidSagaError",
    "DF-606": "TwoPhaseCommitUnavailableError",
    "DF-607": "TwoPhaseCommitError",
    "DF-701": "ResourceLeakError",
    "DF-702": "EscapedWritesError",
    "DF-703": "LoopReuseWarning",
    "DF-704": "SeedError",
    "DF-710": "TaskNotStoppedError",
    "DF-801": "InvalidURLError",
    "DF-802": "ConfigurationError",
    "DF-803": "TestDatabaseOptionsError",
    "DF-804": "BackendMarkerError",
    "DF-805": "InvalidTaskError",
    "DF-810": "ReplicaConfigurationError",
    "DF-811": "GatewayWithoutAuthWarning",
    "DF-812": "GatewayConfigurationError",
    "DF-820": "CacheBackendConfigurationError",
    "DF-821": "CacheBackendNotInstalledError",
    "DF-901": "MultipleHeadsError",
    "DF-902": "MigrationChecksumError",
    "DF-903": "InvalidMigrationTargetError",
    "DF-904": "UnsupportedMigrationOperationError",
    "DF-905": "MigrationFailedError",
    "DF-906": "InvalidMigrationHistoryError",
    "DF-410": "UnknownSourceTableError",
    "DF-411": "InvalidCaptureParameterError",
    "DF-513": "LogicalDecodingUnavailableError",
    "DF-514": "ChangeFeedExistsError",
    "DF-515": "ChangeFeedNotFoundError",
    "DF-516": "ChangeCaptureOutdatedError",
    # monitoring nodes and their OpenTelemetry export
    "DF-420": "InvalidMonitorOptionError",
    "DF-421": "MonitoredDatabaseError",
    "DF-823": "OpenTelemetryUnavailableError",
    "DF-824": "InvalidMeterProviderError",
    "DF-310": "StaleRecordError",
    "DF-311": "DeletedRecordConflictError",
    "DF-416": "RowOptionNotEnabledError",
    "DF-417": "ManagedFieldError",
    "DF-817": "InvalidModelOptionError",
    "DF-306": "TenantRequiredError",
    "DF-307": "TenantMismatchError",
    "DF-308": "InvalidTenantError",
    "DF-412": "TenantConflictError",
    "DF-813": "InvalidTenantOptionError",
    "DF-814": "RowSecurityUnsupportedError",
    "DF-815": "RowSecurityBypassedError",
    "DF-827": "IsolationModeError",
}

#: Families by the first digit of the code (ARCHITECTURE.md, "Errors").
FAMILY = {
    "1": "ValidationError",
    "2": "ValidationError",
    "3": ("RecordError", "ValidationError"),  # DF-305 is checked before any SQL runs
    "4": "WorkflowError",
    "5": ("DatabaseConnectionError", "DatabaseError", "DataFlowWarning"),
    "6": "TransactionError",
    "7": ("TestingError", "DataFlowWarning"),
    "8": ("ConfigurationError", "DataFlowWarning"),
    "9": "MigrationError",
}

CODES = list(CATALOG)
SECRET = "hunter2-Secret"


@pytest.fixture(autouse=True)
def _published_docs_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAFLOW_DOCS_URL", raising=False)


def exception_class(code: str) -> type:
    return getattr(dataflow, CATALOG[code].exception)


def make(code: str, detail: str = "Something happened.") -> BaseException:
    cls = exception_class(code)
    if issubclass(cls, Warning):
        return cls(detail)
    return cls(detail, context={"model": "User"})


def page_path(code: str) -> Path:
    return DOCS / (CATALOG[code].page.rstrip("/") + ".md")


# --- codes and classes -----------------------------------------------------------------------------


def test_codes_are_unique_well_formed_and_in_order() -> None:
    assert len(CODES) == len(set(CODES))
    assert all(re.fullmatch(r"DF-[1-9]\d{2}", code) for code in CODES), CODES
    assert CODES == sorted(CODES), "the catalog is kept in code order (the docs page follows it)"
    assert all(CATALOG[code].code == code for code in CODES)
    classes = [info.exception for info in CATALOG.values()]
    assert len(classes) == len(set(classes)), "one exception class per code"


def test_codes_are_never_removed_or_reused() -> None:
    for code, exception in PUBLISHED.items():
        assert code in CATALOG, f"{code} was published; keep it (retired=True) so old links still resolve"
        assert CATALOG[code].exception == exception, f"{code} was {exception}; a code is never reused"
    new = sorted(set(CATALOG) - set(PUBLISHED))
    assert not new, f"add the new codes {new} to PUBLISHED in this test"


@pytest.mark.parametrize("code", CODES)
def test_every_code_has_its_class(code: str) -> None:
    info = CATALOG[code]
    cls = exception_class(code)
    assert cls.__name__ == info.exception
    assert cls.__dict__.get("code") == code, f"{cls.__name__}.code is not {code}"
    assert info.exception in dataflow.__all__ and getattr(_errors, info.exception) is cls
    family = FAMILY[code[3]]
    bases = {base.__name__ for base in cls.__mro__}
    assert bases & ({family} if isinstance(family, str) else set(family)), f"{code}: {cls.__name__} is not in {family}"
    assert issubclass(cls, (dataflow.DataFlowError, dataflow.DataFlowWarning))


def test_every_class_with_a_code_is_in_the_catalog() -> None:
    coded = {
        obj.__dict__["code"]: name
        for name, obj in vars(_errors).items()
        if isinstance(obj, type) and obj.__dict__.get("code")
    }
    assert coded == {code: info.exception for code, info in CATALOG.items()}


@pytest.mark.parametrize("code", CODES)
def test_catalog_texts(code: str) -> None:
    info = CATALOG[code]
    for name in ("title", "cause", "fix"):
        text = getattr(info, name)
        assert text.strip() == text and text, f"{code}.{name} is empty or padded"
        assert "\n" not in text and "\x1b" not in text, f"{code}.{name} must be one plain-text line"
    assert not info.title.endswith("."), f"{code}: a title is not a sentence"
    assert info.cause.endswith((".", ")")) and info.fix.endswith((".", ")")), f"{code}: cause and fix are sentences"


# --- messages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_message_shape(code: str) -> None:
    info = CATALOG[code]
    error = make(code, "The detail.")
    message = str(error)
    link = f"{DOCS_BASE_URL}{docs_version()}/{ERRORS_PAGE}#{code.lower()}"
    causes = [f"{n}. {c.splitlines()[0]}" for n, c in enumerate(info.causes, 1)]
    solutions = [f"{n}. {s.splitlines()[0]}" for n, s in enumerate(info.solutions, 1)]
    lines = message.split("\n")
    assert lines[:2] == [f"{code}: {info.title}", "The detail."]  # FULL, the default mode
    assert lines[lines.index("Causes:") + 1 : lines.index("Causes:") + 1 + len(causes)] == causes
    assert [line for line in lines if line in solutions] == solutions
    assert lines[-1] == f"Documentation: {link}"
    if isinstance(error, dataflow.DataFlowWarning):
        return
    minimal = dataflow.ErrorEnhancer(dataflow.ErrorEnhancerConfig(mode="minimal"))
    assert minimal.render(code, "The detail.\nMore.") == f"{code}: {info.title}\nThe detail.\nDocumentation: {link}"
    disabled = dataflow.ErrorEnhancer(dataflow.ErrorEnhancerConfig(mode=dataflow.PerformanceMode.DISABLED))
    assert str(disabled.enhance(error)) == f"{code}: The detail."
    assert type(disabled.enhance(error)) is type(error) and error.code == code
    assert error.code == code  # type: ignore[attr-defined]
    if isinstance(error, dataflow.DataFlowError):
        assert error.title == info.title
        assert error.url == f"{DOCS_BASE_URL}{docs_version()}/troubleshooting/errors/#{code.lower()}"


@pytest.mark.parametrize("code", CODES)
def test_docs_url_override(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_DOCS_URL", "http://127.0.0.1:8000")
    assert docs_base_url() == "http://127.0.0.1:8000/"
    link = f"http://127.0.0.1:8000/{docs_version()}/troubleshooting/errors/#{code.lower()}"
    assert error_url(code) == link
    assert str(make(code)).endswith(f"Documentation: {link}")
    monkeypatch.setenv("DATAFLOW_DOCS_URL", "https://docs.example.com/dataflow/")
    expected = f"Documentation: https://docs.example.com/dataflow/{docs_version()}/troubleshooting/errors/#{code.lower()}"
    assert str(make(code)).endswith(expected)


def test_links_carry_the_minor_version() -> None:
    """Like pydantic's and SQLAlchemy's: the link names the release's docs, so an old message opens the
    page that matches it (the site keeps one version per minor release, scripts/versioned_docs.py)."""
    assert docs_version() == ".".join(dataflow.__version__.split(".")[:2])
    assert error_url("DF-101") == f"{DOCS_BASE_URL}{docs_version()}/troubleshooting/errors/#df-101"


def test_links_shown_in_the_docs_name_this_version() -> None:
    """A message quoted on a page links to the version the page belongs to."""
    pattern = re.escape(DOCS_BASE_URL) + r"(?!\d+\.\d+/)"
    for page in DOCS.rglob("*.md"):
        for number, line in enumerate(page.read_text(encoding="utf-8").split("\n"), start=1):
            for m in re.finditer(re.escape(DOCS_BASE_URL) + r"(\d+\.\d+)/", line):
                assert m.group(1) == docs_version(), f"{page.relative_to(REPO)}:{number} links to {m.group(1)}"
            assert not re.search(pattern + r"troubleshooting/", line), (
                f"{page.relative_to(REPO)}:{number}: an error link without the version"
            )


def test_docs_base_url_is_the_site_url() -> None:
    config = yaml.load((REPO / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    assert DOCS_BASE_URL == config["site_url"]
    assert DOCS_BASE_URL.endswith("/")


@pytest.mark.parametrize("code", CODES)
def test_messages_are_plain_text(code: str) -> None:
    message = str(make(code, "detail"))
    assert "\x1b[" not in message
    assert message.isprintable() or all(line.isprintable() for line in message.split("\n"))


def test_messages_never_show_the_password() -> None:
    url = f"postgresql://app:{SECRET}@db.internal:5432/app"
    db = dataflow.DataFlow(url)
    assert SECRET not in db.url and SECRET not in repr(db)
    assert SECRET not in str(db.get_cleanup_metrics())
    for bad in (f"mysql://app:{SECRET}@localhost/app", f"postgresql://app:{SECRET}@localhost:port/app"):
        with pytest.raises(dataflow.InvalidURLError) as info:
            dataflow.DataFlow(bad)
        assert SECRET not in str(info.value) and SECRET not in repr(info.value.context)
    with pytest.raises(dataflow.ConfigurationError) as config_error:
        dataflow.DataFlow(url, pool_min_size=3, pool_max_size=1)
    assert SECRET not in str(config_error.value)


def test_errors_pickle_with_code_and_context() -> None:
    import pickle

    error = dataflow.RecordNotFoundError("No User with id 1.", context={"model": "User"})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error) and copy.context == {"model": "User"}


def test_warning_has_code_and_link() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(dataflow.StalePoolWarning("Closed 1 stale pool(s)."), stacklevel=1)
    assert caught and str(caught[0].message).endswith(f"{DOCS_BASE_URL}{docs_version()}/troubleshooting/errors/#df-507")


# --- the docs page ----------------------------------------------------------------------------------------

HEADING = re.compile(r"^## (?P<code>DF-\d{3}): (?P<title>.+) \{#(?P<anchor>df-\d{3})\}$", re.M)


def sections(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    found = list(HEADING.finditer(text))
    return {
        m.group("code"): text[m.start() : found[i + 1].start() if i + 1 < len(found) else len(text)]
        for i, m in enumerate(found)
    }


@pytest.mark.parametrize("code", CODES)
def test_every_code_has_its_section(code: str) -> None:
    info = CATALOG[code]
    path = page_path(code)
    assert path.exists(), f"{code}: page {path} does not exist"
    heading = f"## {code}: {info.title} {{#{info.anchor}}}"
    text = path.read_text(encoding="utf-8")
    assert heading in text.split("\n"), f"{path.relative_to(REPO)} has no line {heading!r}"
    body = sections(path)[code]
    assert f"`{info.exception}`" in body
    if info.retired:
        assert "no longer raised" in body
        return
    # Rust error index style: an example that fails with this very code, then a runnable fix.
    if code in ("DF-701", "DF-803", "DF-804"):  # raised by the pytest plugin: shown as its output
        assert f"{code}: {info.title}" in body and f"#{info.anchor}" in body  # the real message, as text
    else:
        example = re.search(
            r'^```\{\.python expect="fail" raises="' + info.exception + r'" match="' + code + r'"[^}]*\}$', body, re.M
        )
        assert example, f"{code}: no ```{{.python expect=\"fail\" raises=\"{info.exception}\" match=\"{code}\"}} block"
    assert "**Why it happens.**" in body and "**Fix.**" in body
    assert re.search(r"^```(python|\{\.python(?![^}]*expect=)[^}]*\})$", body.split("**Fix.**", 1)[1], re.M), (
        f"{code}: the Fix has no runnable python block"
    )


def _paragraph(body: str, lead: str) -> str | None:
    """The paragraph that starts with ``lead`` (e.g. ``**Fix.**``), without it, lines joined by spaces."""
    m = re.search(r"^" + re.escape(lead) + r" (.+?)(?:\n\s*\n|\Z)", body, re.M | re.S)
    return " ".join(m.group(1).split()) if m else None


@pytest.mark.parametrize("code", CODES)
def test_section_cause_and_fix_are_the_catalogs(code: str) -> None:
    """The catalog is the one source of the cause and the fix: the page repeats them word for word
    (a section may explain more after them), so changing one without the other fails here."""
    info = CATALOG[code]
    body = sections(page_path(code))[code]
    for lead, text, more in (
        ("**Why it happens.**", info.cause, info.more_causes),
        ("**Fix.**", info.fix, info.more_solutions),
    ):
        shown = _paragraph(body, lead)
        assert shown is not None, f"{code}: no {lead} paragraph"
        assert shown.startswith(text), (
            f"{code}: the {lead} paragraph must start with the catalog's text "
            f"(dataflow._catalog, {code}).\n  catalog: {text}\n  page:    {shown}"
        )
        for extra in more:  # full messages print these too: the page says the same (prose; code is shown below)
            prose = " ".join(extra.split("\n\n")[0].split())
            assert prose in shown, f"{code}: the {lead} paragraph lacks the catalog's additional text: {prose}"


def test_index_table_is_the_catalog() -> None:
    """The table at the top of the errors page lists every code, with its title and class, in order."""
    text = (DOCS / "troubleshooting" / "errors.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \[(DF-\d{3})\]\(#(df-\d{3})\) \| (.+?) \| `(\w+)` \|$", text, re.M)
    expected = [(c, i.anchor, i.title, i.exception) for c, i in CATALOG.items() if i.page == ERRORS_PAGE]
    assert rows == expected


#: What a catalog text may name, and the guide page its section must then link to.
GUIDE_MENTIONS = {
    r"event-loop guide|loop_scope": "event-loops.md",
    r"rollback fixture|dataflow_isolated": "guide/transaction-patterns.md",
    r"`dataflow_db` fixture": "guide/fixture-patterns.md",
    r"`dataflow_url` fixture": "setup.md",
    r"never hard-code port": "index.md#connection-refused",
}


@pytest.mark.parametrize("code", CODES)
def test_sections_link_the_guide_pages_they_name(code: str) -> None:
    info = CATALOG[code]
    body = sections(page_path(code))[code]
    links = re.findall(r"\]\(([^)\s]+)\)", body)
    for pattern, target in GUIDE_MENTIONS.items():
        if re.search(pattern, f"{info.cause} {info.fix}"):
            page, _, anchor = target.partition("#")
            linked = any(link.split("#")[0].endswith(page) and anchor in link for link in links)
            assert linked, f"{code} names a guide page ({pattern}) but its section has no link to {target}"


def test_page_sections_follow_the_catalog() -> None:
    pages = {page_path(code) for code in CODES}
    documented = [code for page in sorted(pages) for code in sections(page)]
    assert documented == CODES, "one section per code, in catalog order, and no section for an unknown code"
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for anchor in set(re.findall(r"\(#(df-\d{3})\)", text)):
            assert anchor.upper() in CATALOG, f"{page.name} links to #{anchor}, which is not a code"


# --- the built site ---------------------------------------------------------------------------------------


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] = tag


@pytest.fixture(scope="module")
def built_site(docs_site) -> Path:  # type: ignore[no-untyped-def]
    """The run's one strict build of the site (``docs_site``, tests/_site.py)."""
    problems = docs_site.warnings or [docs_site.log[-3000:]]
    assert docs_site.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(problems)
    return docs_site.directory


def test_built_html_has_every_anchor(built_site: Path) -> None:
    missing = []
    ids_by_page: dict[Path, dict[str, str]] = {}  # most codes share one page: parse it once
    for code in CODES:
        info = CATALOG[code]
        html = built_site / info.page / "index.html"
        if html not in ids_by_page:
            parser = _Ids()
            parser.feed(html.read_text(encoding="utf-8"))
            ids_by_page[html] = parser.ids
        if ids_by_page[html].get(info.anchor) not in ("h2",):
            missing.append(f"{code}: no <h2 id=\"{info.anchor}\"> in {html.relative_to(built_site)}")
    assert not missing, "\n".join(missing)
