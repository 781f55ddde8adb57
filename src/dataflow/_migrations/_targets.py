"""Where ``migrate()`` and ``rollback()`` go: targets read against the history (DF-903 otherwise)."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import InvalidMigrationTargetError
from ._files import Revision

__all__ = ["Target", "downgrade_goal", "find", "upgrade_goal"]

#: ``None``/``"head"``, a revision id or unique prefix, ``"base"``, ``"previous_version"``, ``"+n"``,
#: ``-n`` / ``"-n"``.
Target = str | int | None


def find(target: str, chain: Sequence[Revision]) -> int:
    """The position after revision ``target`` (an id or a unique prefix) in ``chain``."""
    exact = [i for i, r in enumerate(chain) if r.id == target]
    found = exact or [i for i, r in enumerate(chain) if r.id.startswith(target)]
    if len(found) != 1:
        listed = ", ".join(r.id for r in chain) or "none"
        what = "matches several revisions" if found else "is not a revision of the history"
        raise InvalidMigrationTargetError(
            f"Migration target {target!r} {what}. Revisions: {listed}.", context={"target": target}
        )
    return found[0] + 1


def upgrade_goal(target: Target, chain: Sequence[Revision], applied: int) -> int:
    """How many revisions of ``chain`` are applied once ``migrate(target)`` is done."""
    if target is None or target == "head":
        return len(chain)
    if isinstance(target, str) and not target.startswith("+"):
        goal = find(target, chain)
        if goal < applied:
            raise InvalidMigrationTargetError(
                f"Migration target {target!r} is behind the database, which is at {chain[applied - 1].id}; "
                f"roll back to it with db.rollback({target!r}).",
                context={"target": target},
            )
        return goal
    steps = _steps(target, "+")
    if steps is None or steps < 1 or applied + steps > len(chain):
        raise InvalidMigrationTargetError(
            f"Migration target {target!r}: migrate() takes None, 'head', a revision id or '+n' with n up to "
            f"{len(chain) - applied} (the revisions not applied yet).",
            context={"target": str(target)},
        )
    return applied + steps


def downgrade_goal(target: Target, chain: Sequence[Revision], applied: Sequence[Revision]) -> int:
    """How many revisions stay applied once ``rollback(target)`` is done."""
    if target == "base":
        return 0
    if target == "previous_version":
        target = -1
    if isinstance(target, str) and not target.startswith("-"):
        keep = find(target, chain)
        if keep > len(applied):
            raise InvalidMigrationTargetError(
                f"Rollback target {target!r} is not applied to this database "
                f"(it is at {applied[-1].id if applied else 'base, nothing applied'}); migrate to it instead.",
                context={"target": target},
            )
        return keep
    steps = _steps(target, "-")
    if steps is None or steps < 1 or steps > len(applied):
        raise InvalidMigrationTargetError(
            f"Rollback target {target!r}: the database has {len(applied)} revision(s) applied, so rollback() "
            "takes a revision id, 'base', 'previous_version', or -n with n up to that number.",
            context={"target": str(target)},
        )
    return len(applied) - steps


def _steps(target: Target, sign: str) -> int | None:
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target if sign == "+" else -target
    if isinstance(target, str) and target.startswith(sign) and target[1:].isdigit():
        return int(target[1:])
    return None
