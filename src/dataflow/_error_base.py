"""The base of every DataFlow error: :class:`DataFlowError` and how its message is written.

The classes with a ``DF-`` code live in ``_errors`` (which re-exports these names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ._catalog import CATALOG, error_url
from ._enhancer import ErrorEnhancer, default_enhancer

__all__ = ["DataFlowError", "format_message"]

_CODES_IN_USE: dict[str, str] = {}


def format_message(
    code: str,
    detail: str,
    *,
    fix: str | None = None,
    context: Mapping[str, Any] | None = None,
    enhancer: ErrorEnhancer | None = None,
) -> str:
    """The plain-text message for ``code`` in the enhancer's mode (default: the process's)."""
    return (enhancer or default_enhancer()).render(code, detail, context, fix)


class DataFlowError(Exception):
    """Base class of every error DataFlow raises.

    Attributes:
        code: The stable error code, e.g. ``"DF-101"``.
        title: The catalog title of the code.
        detail: What happened, in one or two sentences.
        context: Where it happened: ``model``, ``node``, ``field``, ``operation``, ... (only the
            keys that apply).
        url: The troubleshooting link for the code.
    """

    code: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if not code:
            return
        if code not in CATALOG:
            raise TypeError(f"{cls.__name__}.code {code!r} is not in the error catalog")
        if CATALOG[code].exception != cls.__name__:
            raise TypeError(f"catalog entry {code} names {CATALOG[code].exception}, not {cls.__name__}")
        if code in _CODES_IN_USE:
            raise TypeError(f"{code} is used by both {_CODES_IN_USE[code]} and {cls.__name__}")
        _CODES_IN_USE[code] = cls.__name__

    def __init__(
        self, detail: str, *, context: Mapping[str, Any] | None = None, fix: str | None = None
    ) -> None:
        self.detail = detail
        self.context: dict[str, Any] = dict(context or {})
        self._fix = fix
        #: Writes the message; the runtime sets the instance's (``DataFlow(error_enhancer=...)``).
        self.enhancer: ErrorEnhancer | None = None
        super().__init__(detail)

    def __str__(self) -> str:
        # Rendered when shown, not when raised: a handled error costs no formatting.
        return format_message(
            self.code, self.detail, fix=self._fix, context=self.context, enhancer=self.enhancer
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps errors picklable (xdist, multiprocessing) with their context.
        return (_rebuild, (type(self), self.detail, self.context, self._fix))

    @property
    def title(self) -> str:
        """The catalog title of this error's code."""
        return CATALOG[self.code].title

    @property
    def url(self) -> str:
        """The troubleshooting link for this error's code."""
        return error_url(self.code)

    def with_enhancer(self, enhancer: ErrorEnhancer) -> DataFlowError:
        """Write this error's message with ``enhancer`` unless one was chosen already; return ``self``."""
        if self.enhancer is None:
            self.enhancer = enhancer
        return self

    def add_context(self, **context: Any) -> DataFlowError:
        """Record where the error happened (keys already set are kept) and return ``self``."""
        for key, value in context.items():
            self.context.setdefault(key, value)
        return self


def _rebuild(
    cls: type[DataFlowError], detail: str, context: dict[str, Any], fix: str | None
) -> DataFlowError:
    return cls(detail, context=context, fix=fix)
