"""Transaction options: the isolation level, the timeout and the retry count, checked (DF-604).

``db.transaction(isolation=..., timeout=..., retries=...)`` and ``TransactionContextNode`` take the
same options and check them here; how a backend spells them (``BEGIN ISOLATION LEVEL``,
``SET LOCAL statement_timeout``, SQLite's busy timeout) lives in ``_dialects``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._errors import InvalidTransactionOptionError

__all__ = ["IsolationLevel", "TransactionOptions", "transaction_options"]


class IsolationLevel(StrEnum):
    """The SQL isolation levels; the value is the SQL spelling (``"READ COMMITTED"``).

    Strings name them too, in any case, with ``_``, ``-`` or spaces: ``"READ_COMMITTED"``,
    ``"repeatable read"``, ``"serializable"``.
    """

    READ_UNCOMMITTED = "READ UNCOMMITTED"
    READ_COMMITTED = "READ COMMITTED"
    REPEATABLE_READ = "REPEATABLE READ"
    SERIALIZABLE = "SERIALIZABLE"

    @property
    def strength(self) -> int:
        """0 (READ UNCOMMITTED) to 3 (SERIALIZABLE): a stronger level gives every weaker one's guarantees."""
        return list(IsolationLevel).index(self)

    @classmethod
    def parse(cls, value: Any, where: str = "db.transaction()") -> IsolationLevel:
        """The level ``value`` names (DF-604 for anything else)."""
        if isinstance(value, IsolationLevel):
            return value
        if isinstance(value, str):
            spelled = " ".join(value.replace("_", " ").replace("-", " ").upper().split())
            for level in cls:
                if level.value == spelled:
                    return level
        names = ", ".join(level.name for level in cls)
        raise InvalidTransactionOptionError(
            f"{where} got isolation level {value!r}; use one of {names} (or its SQL spelling, 'READ COMMITTED').",
            context={"option": "isolation_level", "value": repr(value)},
        )


@dataclass(frozen=True)
class TransactionOptions:
    """What a transaction block asks for beyond BEGIN/COMMIT.

    Attributes:
        isolation: The isolation level; ``None`` is the backend's default.
        timeout: Seconds a statement or a lock wait may take; ``None`` is no limit of the transaction's own.
        retries: How often to run the transaction again after a serialization failure or deadlock (DF-602).
    """

    isolation: IsolationLevel | None = None
    timeout: float | None = None
    retries: int = 0

    @property
    def empty(self) -> bool:
        """True when the block asks for nothing beyond a plain transaction."""
        return self.isolation is None and self.timeout is None and self.retries == 0

    def describe(self) -> dict[str, Any]:
        """The options as plain values (node outputs, error context)."""
        return {
            "isolation_level": self.isolation.name if self.isolation is not None else None,
            "timeout": self.timeout,
            "retries": self.retries,
        }


def check_timeout(value: Any, where: str) -> float | None:
    """``value`` as seconds above 0, or ``None`` (DF-604 otherwise)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidTransactionOptionError(
            f"{where} got timeout={value!r}; give the seconds a statement or lock wait may take, a number above 0.",
            context={"option": "timeout", "value": repr(value)},
        )
    return float(value)


def check_retries(value: Any, where: str) -> int:
    """``value`` as a count of 0 or more (DF-604 otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidTransactionOptionError(
            f"{where} got retries={value!r}; give how many times to run the transaction again after a "
            "serialization failure, an integer of 0 or more.",
            context={"option": "retries", "value": repr(value)},
        )
    return value


def transaction_options(
    isolation: Any = None, timeout: Any = None, retries: Any = 0, *, where: str = "db.transaction()"
) -> TransactionOptions:
    """Checked options (DF-604 for a bad value)."""
    level = None if isolation is None else IsolationLevel.parse(isolation, where)
    return TransactionOptions(level, check_timeout(timeout, where), check_retries(retries, where))
