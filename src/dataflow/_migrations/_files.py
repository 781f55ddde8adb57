"""Revision files and the history they form.

A revision is one Python file in the migrations folder. It sets ``revision`` (its id), ``parent``
(the id it follows, ``None`` for the first), ``message``, and the ``upgrade`` and ``downgrade``
lists of operations. The files form one history: a chain from the first revision to the *head*.
Two revisions with the same parent fork it (two heads, DF-901); a broken file, a duplicate id or a
parent that does not exist is DF-906. The checksum of a file is the SHA-256 of its text (line
endings normalized), recorded when the revision is applied.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from .._errors import InvalidMigrationHistoryError, MultipleHeadsError
from ._diff import MigrationPlan
from ._ops import Operation, literal

__all__ = ["History", "Revision", "checksum", "load_history", "slug", "write_revision"]


def checksum(text: str) -> str:
    """The checksum of a revision file's text."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def slug(message: str) -> str:
    """The file-name form of a message: ``"Add user table"`` -> ``add_user_table``."""
    text = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    return text[:48].rstrip("_") or "revision"


@dataclass(frozen=True)
class Revision:
    """One loaded revision file."""

    id: str
    parent: str | None
    message: str
    path: Path
    checksum: str
    upgrade: tuple[Operation, ...]
    downgrade: tuple[Operation, ...]


def _broken(path: Path, detail: str) -> InvalidMigrationHistoryError:
    return InvalidMigrationHistoryError(f"Migration file {path}: {detail}", context={"file": str(path)})


def _operations(path: Path, name: str, value: object) -> tuple[Operation, ...]:
    if not isinstance(value, (list, tuple)):
        raise _broken(path, f"{name} must be a list of operations, not {type(value).__name__}.")
    for i, op in enumerate(value, 1):
        if not isinstance(op, Operation):
            raise _broken(
                path,
                f"{name}[{i - 1}] is {op!r:.60}, not an operation (use add_column(), execute(), ... from "
                "dataflow.migrations).",
            )
    return tuple(value)


def load_revision(path: Path, cache: dict[Path, Revision] | None = None) -> Revision:
    """Load one revision file (DF-906 when it cannot be loaded or misses a name).

    With ``cache``, a file whose text has the checksum of its cached revision is not run again.
    """
    text = path.read_text(encoding="utf-8")
    digest = checksum(text)
    cached = cache.get(path) if cache is not None else None
    if cached is not None and cached.checksum == digest:
        return cached
    revision = _load(path, text, digest)
    if cache is not None:
        cache[path] = revision
    return revision


def _load(path: Path, text: str, digest: str) -> Revision:
    spec = importlib.util.spec_from_file_location(f"dataflow_revision_{digest[:16]}", path)
    if spec is None or spec.loader is None:
        raise _broken(path, "it cannot be loaded as a Python module.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise _broken(path, f"loading it raised {type(exc).__name__}: {exc}") from exc
    names = vars(module)
    missing = [n for n in ("revision", "parent", "upgrade", "downgrade") if n not in names]
    if missing:
        raise _broken(path, f"it does not set {', '.join(missing)}.")
    revision, parent = names["revision"], names["parent"]
    if not isinstance(revision, str) or not revision:
        raise _broken(path, f"revision must be a non-empty string, not {revision!r}.")
    if parent is not None and not isinstance(parent, str):
        raise _broken(path, f"parent must be a revision id or None, not {parent!r}.")
    return Revision(
        revision,
        parent,
        str(names.get("message", "")),
        path,
        digest,
        _operations(path, "upgrade", names["upgrade"]),
        _operations(path, "downgrade", names["downgrade"]),
    )


class History:
    """The revisions of a migrations folder, from the first to the head."""

    def __init__(self, directory: Path, revisions: list[Revision]) -> None:
        self.directory = directory
        self.revisions = {r.id: r for r in revisions}

    def heads(self) -> list[Revision]:
        """Revisions no other revision follows."""
        parents = {r.parent for r in self.revisions.values()}
        return sorted((r for r in self.revisions.values() if r.id not in parents), key=lambda r: r.id)

    def chain(self) -> list[Revision]:
        """Every revision in order, first to head.

        Raises:
            MultipleHeadsError: DF-901, when the history forks.
            InvalidMigrationHistoryError: DF-906, for a missing parent or a loop.
        """
        for r in self.revisions.values():
            if r.parent is not None and r.parent not in self.revisions:
                raise _broken(r.path, f"its parent {r.parent!r} is not a revision in {self.directory}.")
        heads = self.heads()
        if len(heads) > 1:
            listed = ", ".join(f"{h.id} ({h.path.name}, parent {h.parent})" for h in heads)
            raise MultipleHeadsError(
                f"The migrations in {self.directory} have {len(heads)} heads: {listed}.",
                context={"heads": [h.id for h in heads], "directory": str(self.directory)},
            )
        chain: list[Revision] = []
        current = heads[0] if heads else None
        while current is not None:
            chain.append(current)
            current = self.revisions[current.parent] if current.parent is not None else None
            if len(chain) > len(self.revisions):
                break
        if len(chain) != len(self.revisions):
            outside = sorted(set(self.revisions) - {r.id for r in chain})
            raise InvalidMigrationHistoryError(
                f"The migrations in {self.directory} do not form one history: {', '.join(outside)} "
                "follow each other in a loop.",
                context={"directory": str(self.directory)},
            )
        chain.reverse()
        return chain


def load_history(directory: Path, cache: dict[Path, Revision] | None = None) -> History:
    """Load every ``*.py`` file of ``directory`` (files starting with ``_`` are skipped); ``cache``
    keeps the revisions of unchanged files between calls."""
    revisions: list[Revision] = []
    seen: dict[str, Path] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith(("_", ".")):
                continue
            revision = load_revision(path, cache)
            if revision.id in seen:
                raise _broken(path, f"revision id {revision.id!r} is also used by {seen[revision.id].name}.")
            seen[revision.id] = path
            revisions.append(revision)
    return History(directory, revisions)


_TEMPLATE = '''"""{title}

Revision {revision_id}, after {parent_text}.
Generated by DataFlow from the difference between the models and the database.
Review it, edit it if needed, and commit it with the model change.
"""

{imports}

revision = {revision}
parent = {parent}
message = {message}

upgrade = [{upgrade}]

downgrade = [{downgrade}]
'''


def _listing(operations: list[Operation], notes: list[str]) -> str:
    lines = []
    for note in notes:
        words = note.split()
        line = "    #"
        for word in words:
            if len(line) + 1 + len(word) > 100:
                lines.append(line)
                line = "    #"
            line += " " + word
        lines.append(line)
    lines += [f"    {op.source()}," for op in operations]
    return "\n" + "\n".join(lines) + "\n" if lines else ""


def write_revision(directory: Path, revision: str, parent: str | None, message: str, plan: MigrationPlan) -> Path:
    """Write a new revision file for ``plan``; return its path."""
    used = sorted({type(op).__name__ for op in (*plan.upgrade, *plan.downgrade)})
    functions = {
        "AddColumn": "add_column", "AlterColumn": "alter_column", "CreateIndex": "create_index",
        "CreateTable": "create_table", "DropColumn": "drop_column", "DropIndex": "drop_index",
        "DropTable": "drop_table", "Execute": "execute", "EnableRowSecurity": "enable_row_security",
    }
    names = {functions[n] for n in used}
    if "create_table" in names:
        names.add("column")
    source = "\n".join(op.source() for op in (*plan.upgrade, *plan.downgrade))
    for extra in ("NO_DEFAULT", "SQL"):
        if re.search(rf"\b{extra}\b", source):
            names.add(extra)
    imports = []
    if "datetime." in source:
        imports.append("import datetime")
    if "Decimal(" in source:
        imports.append("from decimal import Decimal")
    if imports:
        imports.append("")
    imports.append(
        f"from dataflow.migrations import {', '.join(sorted(names, key=str.lower))}" if names
        else "from dataflow.migrations import add_column, drop_column, execute  # noqa: F401"
    )
    title = " ".join(message.replace("_", " ").replace(chr(34), chr(39)).split())
    text = _TEMPLATE.format(
        title=title[:1].upper() + title[1:] + ("" if title.endswith(".") else "."),
        revision_id=revision,
        revision=literal(revision),
        parent=literal(parent),
        parent_text=parent or "none (the first revision)",
        message=literal(message),
        imports="\n".join(imports),
        upgrade=_listing(plan.upgrade, plan.notes),
        downgrade=_listing(plan.downgrade, []),
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{revision}.py"
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
    return path
