"""The end-of-run summary and the ``--update-docs`` rewrites."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .extract import Block
from .grammar import Action
from .inventory import Inventory


def summary_lines(inventory: Inventory, results: list[dict[str, Any]]) -> list[str]:
    """Blocks found, by action, runs per backend, expected failures confirmed, skips with reasons."""
    by_action = Counter(c.action.value for c in inventory.classified)
    lines = [
        f"pages: {len(inventory.pages)}{' (filtered)' if inventory.filtered else ''}; "
        f"blocks found: {len(inventory.classified)}",
        "blocks by action: " + ", ".join(f"{name} {count}" for name, count in sorted(by_action.items())),
    ]
    runs = Counter((r["backend"], r["outcome"]) for r in results if r.get("backend"))
    for backend in ("sqlite", "postgresql"):
        counts = {o: n for (b, o), n in runs.items() if b == backend}
        if counts:
            lines.append(f"runs on {backend}: " + ", ".join(f"{o} {n}" for o, n in sorted(counts.items())))
    confirmed = sum(r.get("expected_failures_confirmed", 0) for r in results)
    lines.append(f"expected failures confirmed: {confirmed}")
    single = [c for c in inventory.classified if len(c.backends) == 1 and c.action is not Action.INVALID]
    for c in single:
        lines.append(f"single backend: {c.block.label} backends={c.backends[0]} reason: {c.block.attrs.get('reason')}")
    for c in inventory.classified:
        if c.action is Action.SKIP:
            lines.append(f"not run: {c.block.label} skip: {c.block.attrs['skip']}")
    invalid = [c for c in inventory.classified if c.action is Action.INVALID]
    if invalid:
        lines.append(f"unclassified blocks (failures): {len(invalid)}")
    return lines


def record_update(directory: Path, payload: dict[str, Any]) -> None:
    """Store one proposed rewrite (from any xdist worker) for the controller to apply."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{payload['page'].replace('/', '_')}_{payload['line']}_{payload['backend']}_{payload['kind']}.json"
    (directory / name).write_text(json.dumps(payload), encoding="utf-8")


def _print_rewrite(block: Block, per_backend: dict[str, dict[str, Any]]) -> list[str] | str:
    """The block as pytest-examples rewrote its ``#>`` comments, or why it cannot be rewritten."""
    sources = {backend: data.get("source") for backend, data in per_backend.items()}
    changed = {backend: s for backend, s in sources.items() if s is not None}
    if not changed:
        return block.content.rstrip("\n").split("\n")
    if len(set(sources.values())) > 1:
        return "not updated: the block prints differently on each backend; make its output backend-neutral"
    return next(iter(changed.values())).rstrip("\n").split("\n")


def apply_updates(directory: Path, inventory: Inventory) -> list[str]:
    """Rewrite pages in place from the recorded runs; returns what was changed or refused."""
    if not directory.exists():
        return []
    grouped: dict[tuple[str, int, str], dict[str, dict[str, Any]]] = {}
    for file in sorted(directory.glob("*.json")):
        payload = json.loads(file.read_text(encoding="utf-8"))
        key = (payload["page"], payload["line"], payload["kind"])
        grouped.setdefault(key, {})[payload["backend"]] = payload["data"]
    blocks = {(b.rel, b.line): b for bs in inventory.blocks.values() for b in bs}
    edits: dict[Path, list[tuple[Block, list[str]]]] = {}
    messages = []
    for (page, line, kind), per_backend in grouped.items():
        block = blocks.get((page, line))
        if block is None:
            continue
        if block.from_snippet:
            messages.append(f"{block.label}: not updated, the block includes a file: update that file instead")
            continue
        if kind == "prints":
            rewrite = _print_rewrite(block, per_backend)
            if isinstance(rewrite, str):
                messages.append(f"{block.label}: {rewrite}")
                continue
            new = rewrite
        else:
            preferred = per_backend.get("sqlite") or next(iter(per_backend.values()))
            new = preferred["text"].rstrip("\n").split("\n")
        edits.setdefault(block.page, []).append((block, new))
    for page, changes in edits.items():
        text = page.read_text(encoding="utf-8").split("\n")
        for block, new in sorted(changes, key=lambda item: item[0].line, reverse=True):
            first = block.content_lines[0] if block.content_lines else block.line + 1
            count = len(block.content_lines)
            text[first - 1: first - 1 + count] = [(block.fence_indent + t) if t else "" for t in new]
            messages.append(f"updated {block.label}")
        page.write_text("\n".join(text), encoding="utf-8")
    return messages
