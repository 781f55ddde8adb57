"""The base of every generated node: one validation pipeline for build time and run time.

A node validates its parameters before any SQL runs (unknown parameter: DF-105; unknown field:
DF-102; wrong type: DF-103; missing required field: DF-101) and raises typed errors on failure.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .._errors import InvalidParameterError, PoolClosedError
from .._model import ModelSpec
from ._row_options import option_not_enabled
from ._spec import NodeSpec

if TYPE_CHECKING:
    from .._dialects import Connection
    from .._executor import ExecutionContext
    from .._query import Statements

__all__ = ["Node"]

T = TypeVar("T")


class Node:
    """A generated node type. Subclasses implement :meth:`describe` and :meth:`execute`.

    Attributes:
        operation: ``create``, ``read``, ... (``bulk_upsert``).
        model: The model the node works on.
        type_name: The node type's name (``UserCreateNode``).
        spec: The parameters the node takes and the outputs it gives.
        statements: The model's SQL on the instance's backend.
    """

    operation: ClassVar[str] = ""
    #: False for built-in nodes (SwitchNode) that belong to no model and no instance.
    needs_database: ClassVar[bool] = True
    #: True when the nodes downstream of this one run inside a scope it opens (:meth:`run_scope`).
    scoped: ClassVar[bool] = False
    #: True for nodes that look at databases rather than run statements (monitoring): the runtime
    #: sets :attr:`databases` before running them.
    uses_databases: ClassVar[bool] = False
    #: The bound builder's instance, else the workflow's other databases, else every live instance.
    databases: Sequence[ExecutionContext] = ()
    #: True for node types that define :meth:`inactive_outputs` (branching nodes such as SwitchNode):
    #: the runtime asks only them which branch was not taken.
    branches: ClassVar[bool] = False
    #: True for nodes that only read (Read, List, Count): a read replica may serve them.
    reads_only: ClassVar[bool] = False
    model: ClassVar[ModelSpec]
    type_name: ClassVar[str]
    spec: ClassVar[NodeSpec]
    statements: ClassVar[Statements]
    _context_ref: ClassVar[weakref.ref[ExecutionContext]]

    #: Whether ``build()`` may hand this type's static parameters to :meth:`run_prepared`: not
    #: when a subclass overrides ``execute`` or ``run`` below a class that specialized
    #: ``run_prepared`` (the override would be skipped).
    runs_prepared: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "inactive_outputs" in cls.__dict__:
            cls.branches = True
        if not {"run_prepared", "execute", "run"} & cls.__dict__.keys():
            return  # overrides none of them (the generated node types): the base's answer holds

        def owner(name: str) -> type:
            return next(klass for klass in cls.__mro__ if name in klass.__dict__)

        prepared = owner("run_prepared")
        cls.runs_prepared = all(
            prepared is Node or issubclass(prepared, owner(name)) for name in ("execute", "run")
        )

    # --- description ------------------------------------------------------------------------

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        """The :class:`NodeSpec` of this operation for ``model``."""
        raise NotImplementedError  # every operation overrides it

    @classmethod
    def execution_context(cls) -> ExecutionContext:
        """The execution context of the DataFlow instance that generated this node type (DF-504 if gone)."""
        context = cls._context_ref()
        if context is None:  # a workflow built earlier outlived its DataFlow instance
            raise PoolClosedError(
                f"The DataFlow instance that generated {cls.type_name} no longer exists (it was garbage-collected); "
                "keep a reference to it for as long as its workflows run.",
                context={"node_type": cls.type_name},
            )
        return context

    @classmethod
    def error_context(cls, **extra: Any) -> dict[str, Any]:
        """The ``context`` of an error raised by this node type."""
        return {"model": cls.model.name, "node_type": cls.type_name, "operation": cls.operation, **extra}

    # --- validation ---------------------------------------------------------------------------

    @classmethod
    def validate(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> None:
        """Check a node's parameters when a workflow is built.

        Args:
            params: The static parameters given to ``add_node``.
            connected: Names of the parameters that connections fill in at run time (their values
                are checked then; their names are checked now).

        Raises:
            DataFlowError: exactly what running the node with these parameters would raise first.
        """
        cls.prepare(params, connected)

    @classmethod
    def prepare(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> Any:
        """:meth:`validate`, returning what :meth:`run_prepared` takes (build time, once per node).

        When nothing is connected, ``build()`` keeps the result and the runtime hands it to
        :meth:`run_prepared` instead of validating the same static values again. Operations that
        validate more than single values (a create's record, a bulk node's records) return that
        work too; anything that must happen per run (default factories) stays in ``run_prepared``.
        """
        values = cls.checked(params, connected)
        cls.check_static(values, connected)
        return values

    @classmethod
    def checked(
        cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """Names checked (DF-105), values checked and normalized, keyed by canonical name.

        Connected parameters count as present for the required check but are not in the result.
        """
        if type(params) is not dict and not isinstance(params, Mapping):  # a plain dict skips the ABC check
            raise InvalidParameterError(
                f"{cls.type_name} parameters must be a dict, got {type(params).__name__}.",
                context=cls.error_context(),
            )
        spec = cls.spec
        canonical = spec.canonical
        values: dict[str, Any] = {}
        seen: dict[str, str] = {}
        for key in (*params, *connected):
            name = canonical.get(key) if type(key) is str else None
            if name is None:
                cls._unknown(key)
                continue
            if seen.setdefault(name, key) != key:
                first, other = sorted((seen[name], key), key=lambda spelling: spelling != name)
                raise InvalidParameterError(
                    f"{cls.type_name} got both {first!r} and {other!r}; they are the same parameter, pass one.",
                    context=cls.error_context(parameter=other),
                )
            if key in params and key not in connected:
                check = spec.by_name[name].check
                values[name] = params[key] if check is None else check(cls, params[key])
        for name in spec.required:
            if name not in seen:
                cls.missing(name)
        return values

    @classmethod
    def _unknown(cls, key: Any) -> None:
        option_not_enabled(cls, key)  # DF-416 for a soft delete / version parameter of another model
        accepted = cls.spec.names
        hint = get_close_matches(str(key), accepted, n=1)
        raise InvalidParameterError(
            f"{cls.type_name} does not take parameter {key!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f". It takes: {', '.join(accepted)}.",
            context=cls.error_context(parameter=key),
        )

    @classmethod
    def missing(cls, name: str) -> None:
        """Raise the error for a required parameter that is neither given nor connected."""
        raise InvalidParameterError(
            f"{cls.type_name} needs {name!r}.", context=cls.error_context(parameter=name)
        )

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        """Build-time checks beyond single values (``values`` are the checked static ones).

        The base compiles a static ``filter`` and ``order_by`` (at run time the node's own SQL
        compilation raises the same errors); operations add their checks across parameters.
        """
        if "filter" in values:
            cls.statements.check_filter(values["filter"], cls.type_name)
        if "order_by" in values:
            cls.statements.order_by(values["order_by"], cls.type_name)

    @classmethod
    def validate_sources(cls, params: Mapping[str, Any], sources: Mapping[str, list[str]]) -> None:
        """Build-time checks that need to know which nodes feed which parameter (``sources``)."""
        return None

    @classmethod
    def inactive_outputs(cls, output: Mapping[str, Any]) -> frozenset[str]:
        """Output keys of a branch not taken: nodes connected to them are skipped."""
        return frozenset()

    # --- running ------------------------------------------------------------------------------

    @classmethod
    def on_connection(
        cls, operation: Callable[[Connection], Awaitable[T]], cache_key: tuple[str, Sequence[Any]] | None = None
    ) -> Awaitable[T]:
        """Run ``operation`` on the execution context's connection, creating the table first if needed
        (await the result).

        ``cache_key`` (the statement: its SQL and values) lets the query cache keep a read's result.
        """
        # Not a coroutine of its own: every statement of every node passes here.
        return cls.execution_context().run(
            cls.model.name, cls.statements.table_ddl, operation, read=cls.reads_only, cache_key=cache_key
        )

    @classmethod
    def wrote(cls) -> None:
        """Tell the instance that this node writes to its model now (read replicas, query cache).

        Operations that write through ``on_connection`` are told already; a write inside its own
        ``context.transaction()`` calls this once it is inside it.
        """
        cls.execution_context().wrote(cls.model.name)

    @classmethod
    async def ensure_table(cls) -> None:
        """Create the model's table unless it is known to exist."""
        await cls.execution_context().ensure_table(cls.model.name, cls.statements.table_ddl)

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params`` (fully resolved) and execute the node."""
        return await self.execute(type(self).checked(params))

    async def run_prepared(self, prepared: Any) -> dict[str, Any]:
        """Execute with what :meth:`prepare` returned for static parameters (nothing connected)."""
        return await self.execute(dict(prepared))

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        """Run the operation with checked values; return the node's output."""
        raise NotImplementedError  # every operation overrides it

    async def run_scope(
        self, output: dict[str, Any], body: Callable[[], Awaitable[None]], contexts: Sequence[ExecutionContext]
    ) -> dict[str, Any]:
        """For :attr:`scoped` nodes: run ``body`` (the downstream nodes, on the databases of
        ``contexts``) inside the node's scope, as often as the scope needs; return output keys to add."""
        await body()
        return {}
