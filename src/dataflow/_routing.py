"""QueryRouterNode: how the reads of the nodes downstream of it are served.

``read_write_split`` lets those reads go to read replicas (``DataFlow(read_replicas=...)``) or, when
``False``, keeps them on the primary; ``cache_reads`` serves them from the query cache (one is
created for the instance, with ``cache_ttl``, if it has none) or, when ``False``, from the database
even if the instance caches. Writes are routed as always: to the primary, and they invalidate the
cache. The runtime runs the node first, then :meth:`QueryRouterNode.run_scope` with the downstream
nodes, which is where the routing holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import InvalidParameterError
from ._nodes import BuiltinNode, Node, NodeSpec, OutputSpec, ParamSpec, register_builtin
from ._replicas import Routing
from ._types import FieldType

if TYPE_CHECKING:
    from ._executor import ExecutionContext

__all__ = ["QueryRouterNode"]

#: ``cache_ttl`` of a cache that ``cache_reads`` creates for an instance without one.
DEFAULT_CACHE_TTL = 60.0


def _flag(name: str) -> Callable[[type[Node], Any], bool]:
    def check(cls: type[Node], value: Any) -> bool:
        if not isinstance(value, bool):
            raise InvalidParameterError(
                f"QueryRouterNode parameter {name!r} must be True or False, got {value!r:.40}.",
                context={"node_type": "QueryRouterNode", "parameter": name},
            )
        return value

    return check


def _ttl(cls: type[Node], value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidParameterError(
            f"QueryRouterNode parameter 'cache_ttl' must be a number of seconds > 0, got {value!r:.40}.",
            context={"node_type": "QueryRouterNode", "parameter": "cache_ttl"},
        )
    return float(value)


class QueryRouterNode(BuiltinNode):
    """Route the reads of the nodes downstream of this one: to replicas or not, cached or not.

    Example:
        ```python
        workflow.add_node("QueryRouterNode", "route", {"read_write_split": True, "cache_reads": True})
        workflow.add_node("ProductListNode", "list", {"filter": {"active": True}})
        workflow.add_connection("route", "status", "list", "trigger")
        ```
    """

    operation = "route"
    type_name = "QueryRouterNode"
    scoped = True
    spec = NodeSpec(
        (
            ParamSpec(
                "read_write_split", "Reads may go to read replicas (default True).", check=_flag("read_write_split")
            ),
            ParamSpec(
                "cache_reads",
                "Serve reads from the query cache (default: as the instance is configured).",
                check=_flag("cache_reads"),
            ),
            ParamSpec("cache_ttl", "Seconds for a cache that cache_reads creates (default 60).", check=_ttl),
        ),
        (
            OutputSpec("read_write_split", FieldType.BOOL, "Whether reads could go to replicas."),
            OutputSpec("cache_reads", FieldType.BOOL, "Whether reads used the query cache (None: the default)."),
            OutputSpec("cache_ttl", FieldType.FLOAT, "Seconds for a cache that cache_reads creates."),
            OutputSpec("status", FieldType.STR, "'open' for the downstream nodes; 'done' once they ran."),
            OutputSpec("replicas", FieldType.INT, "Read replicas the downstream nodes' databases have."),
            OutputSpec("primary_reads", FieldType.INT, "Downstream reads sent to the primary by replica routing."),
            OutputSpec("replica_reads", FieldType.INT, "Downstream reads served by a replica."),
            OutputSpec("cache_hits", FieldType.INT, "Downstream reads served from the query cache."),
        ),
    )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "read_write_split": values.get("read_write_split", True),
            "cache_reads": values.get("cache_reads"),
            "cache_ttl": values.get("cache_ttl", DEFAULT_CACHE_TTL),
            "status": "open",
        }

    async def run_scope(
        self, output: dict[str, Any], body: Callable[[], Awaitable[None]], contexts: Sequence[ExecutionContext]
    ) -> dict[str, Any]:
        routing = Routing(output["read_write_split"], output["cache_reads"])
        before = [_counts(context) for context in contexts]
        tokens = []
        for context in contexts:
            if routing.cache_reads:
                context.ensure_query_cache(output["cache_ttl"])
            tokens.append((context, context.routing.set(routing)))
        try:
            await body()
        finally:
            for context, token in reversed(tokens):
                context.routing.reset(token)
        after = [_counts(context) for context in contexts]
        primary, replica, hits = (sum(a[i] - b[i] for a, b in zip(after, before, strict=True)) for i in range(3))
        return {
            "status": "done",
            "replicas": sum(len(c.replicas.replicas) if c.replicas is not None else 0 for c in contexts),
            "primary_reads": primary,
            "replica_reads": replica,
            "cache_hits": hits,
        }


def _counts(context: ExecutionContext) -> tuple[int, int, int]:
    replicas = context.replicas
    primary = replicas.primary_reads if replicas is not None else 0
    served = sum(r.reads for r in replicas.replicas) if replicas is not None else 0
    hits = context.query_cache.hits if context.query_cache is not None else 0
    return primary, served, hits


register_builtin(QueryRouterNode)
