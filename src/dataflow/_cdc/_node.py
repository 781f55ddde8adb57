"""ChangeDataCaptureNode: read a table's next committed changes inside a workflow.

It belongs to no model. A builder bound to an instance (``db.workflow()``) gets that instance's class
(``db.node_type("ChangeDataCaptureNode")``); an unbound ``WorkflowBuilder()`` gets the built-in class,
which reads from the one live instance that declares ``source_table`` (DF-410 when none or several do).
"""

from __future__ import annotations

import copyreg
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from .._errors import UnknownSourceTableError
from .._model import ModelSpec
from .._nodes import BuiltinNode, NodeSpec, OutputSpec, ParamSpec, live_owners, register_builtin
from .._tenancy import tenant_events
from .._types import FieldType
from ._events import OPERATIONS, check_feed_name, check_flag, check_limit, check_operations
from ._feed import find_model

if TYPE_CHECKING:
    from ._feed import ChangeFeed

__all__ = ["ChangeDataCaptureNode", "FeedOwner", "bound_builtin", "bound_node", "find_model"]

TYPE_NAME = "ChangeDataCaptureNode"


class FeedOwner(Protocol):
    """What the node needs from a DataFlow instance."""

    @property
    def closed(self) -> bool: ...

    @property
    def models(self) -> dict[str, ModelSpec]: ...

    def change_feed(
        self, source: Any, *, name: str | None = None, operations: Iterable[str] | None = None
    ) -> ChangeFeed: ...


def _check_source(cls: Any, value: Any) -> Any:
    if not (isinstance(value, str) and value) and not isinstance(value, type):
        raise UnknownSourceTableError(
            f"source_table must be a model or table name such as 'customers', got {value!r:.60}.",
            context=cls.error_context(parameter="source_table"),
        )
    return value


class ChangeDataCaptureNode(BuiltinNode):
    """The next committed changes of ``source_table`` after the feed's acknowledged position.

    Output: ``events`` (dicts: operation, table, primary_key, new, old, position), ``count`` and
    ``position`` (the feed's position after the node ran).
    """

    operation = "change_data_capture"
    type_name = TYPE_NAME
    #: The instance a bound builder names (``None``: the one live instance declaring the table).
    owner_ref: ClassVar[weakref.ref[FeedOwner] | None] = None
    spec = NodeSpec(
        (
            ParamSpec(
                "source_table",
                "The model (name or class) or table whose changes are read.",
                True,
                check=_check_source,
            ),
            ParamSpec(
                "capture_operations",
                f"The operations delivered, some of {list(OPERATIONS)} (default: all).",
                check=lambda cls, v: sorted(check_operations(v, cls.error_context())),
            ),
            ParamSpec(
                "feed",
                "The feed's name (default: the table name); create it once with feed.create().",
                check=lambda cls, v: check_feed_name(v),
            ),
            ParamSpec("limit", "Changes read at most (default 100).", check=lambda cls, v: check_limit(v)),
            ParamSpec(
                "acknowledge",
                "Acknowledge the changes read when the node succeeds (default True); False leaves that to "
                "feed.ack(position).",
                field_type=FieldType.BOOL,
                check=lambda cls, v: check_flag(v, "acknowledge"),
            ),
        ),
        (
            OutputSpec("events", None, "The changes, in commit order, as dicts."),
            OutputSpec("count", FieldType.INT, "How many changes were read."),
            OutputSpec("position", FieldType.STR, "The feed's acknowledged position after the node ran."),
        ),
    )

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        if "source_table" in values:
            cls.owner(values["source_table"])

    @classmethod
    def owner(cls, source: Any) -> FeedOwner:
        """The instance whose model ``source`` names (DF-410 when none, or several for an unbound builder)."""
        bound = cls.owner_ref() if cls.owner_ref is not None else None
        if cls.owner_ref is not None:
            candidates = [bound] if bound is not None and not bound.closed else []
        else:
            candidates = [cast(FeedOwner, o) for o in live_owners() if hasattr(o, "change_feed")]
        matches = [o for o in candidates if find_model(o.models, source) is not None]
        if len(matches) == 1:
            return matches[0]
        name = source.__name__ if isinstance(source, type) else source
        if matches:
            raise UnknownSourceTableError(
                f"source_table {name!r} is declared by {len(matches)} live DataFlow instances "
                f"({', '.join(repr(o) for o in matches)}); build the workflow with db.workflow() on the one to read.",
                context=cls.error_context(parameter="source_table"),
            )
        known = sorted({spec.table for o in candidates for spec in o.models.values()})
        where = "the bound DataFlow instance" if cls.owner_ref is not None else "any live DataFlow instance"
        raise UnknownSourceTableError(
            f"source_table {name!r} is not a model or table of {where}; known tables: {', '.join(known) or 'none'}.",
            context=cls.error_context(parameter="source_table"),
        )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        owner = type(self).owner(values["source_table"])
        feed = owner.change_feed(
            values["source_table"], name=values.get("feed"), operations=values.get("capture_operations")
        )
        # A tenant-scoped model's events are the current tenant's only (DF-306, before reading, without one).
        spec = find_model(owner.models, values["source_table"])
        tenant_events(spec, [])
        events = await feed.read(values.get("limit", 100))
        if events and values.get("acknowledge", True):
            await feed.ack(events[-1].position)
        own = tenant_events(spec, events)
        return {
            "events": [event.to_dict() for event in own],
            "count": len(own),
            "position": str(await feed.position()),
        }


class _BoundNodeType(type):
    """The metaclass of bound node classes: they pickle as the built-in class (resolved by table)."""


def _unbound() -> type[ChangeDataCaptureNode]:
    return ChangeDataCaptureNode


def _reduce_bound(cls: Any) -> Any:
    return (_unbound, ())


copyreg.pickle(_BoundNodeType, _reduce_bound)

_bound: weakref.WeakKeyDictionary[Any, type[ChangeDataCaptureNode]] = weakref.WeakKeyDictionary()


def bound_node(owner: FeedOwner) -> type[ChangeDataCaptureNode]:
    """``owner``'s ChangeDataCaptureNode: reads only ``owner``'s tables."""
    found = _bound.get(owner)
    if found is None:
        found = _bound[owner] = cast(Any, _BoundNodeType)(
            TYPE_NAME,
            (ChangeDataCaptureNode,),
            {"owner_ref": weakref.ref(owner), "__module__": "dataflow.nodes", "__qualname__": TYPE_NAME},
        )
    return found


def bound_builtin(owner: FeedOwner, name: str) -> type[ChangeDataCaptureNode] | None:
    """``owner``'s own class of the built-in node type ``name``, or ``None`` (not such a type)."""
    return bound_node(owner) if name == TYPE_NAME else None


register_builtin(ChangeDataCaptureNode)

