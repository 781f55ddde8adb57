"""The migration engine: revision files, autogenerate, applying and rolling back.

The public face is ``db.migrations`` (:class:`Migrations`), ``db.migrate()`` /
``db.rollback()`` / ``db.generate_migration()``, and :mod:`dataflow.migrations`, which revision
files import their operations from.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._calls import MigrationCalls, migrations_for

if TYPE_CHECKING:
    from ._checks import (
        check_keeps_data,
        check_matches_models,
        check_single_head,
        check_up_down_up,
        check_upgrade,
    )
    from ._diff import MigrationPlan, declared_schema, diff, models_schema
    from ._files import History, Revision, checksum, load_history
    from ._ops import (
        UNCHANGED,
        AddColumn,
        AlterColumn,
        CreateIndex,
        CreateTable,
        DropColumn,
        DropIndex,
        DropTable,
        Execute,
        Operation,
        add_column,
        alter_column,
        column,
        create_index,
        create_table,
        drop_column,
        drop_index,
        drop_table,
        execute,
    )
    from ._row_security import EnableRowSecurity, enable_row_security
    from ._runner import Migrations, RevisionStatus

#: The engine's exports, imported on first use (``import dataflow`` does not load the engine).
_LAZY = {
    "check_keeps_data": "._checks",
    "check_matches_models": "._checks",
    "check_single_head": "._checks",
    "check_up_down_up": "._checks",
    "check_upgrade": "._checks",
    "MigrationPlan": "._diff",
    "declared_schema": "._diff",
    "diff": "._diff",
    "models_schema": "._diff",
    "History": "._files",
    "Revision": "._files",
    "checksum": "._files",
    "load_history": "._files",
    "UNCHANGED": "._ops",
    "AddColumn": "._ops",
    "AlterColumn": "._ops",
    "CreateIndex": "._ops",
    "CreateTable": "._ops",
    "DropColumn": "._ops",
    "DropIndex": "._ops",
    "DropTable": "._ops",
    "Execute": "._ops",
    "Operation": "._ops",
    "add_column": "._ops",
    "alter_column": "._ops",
    "column": "._ops",
    "create_index": "._ops",
    "create_table": "._ops",
    "drop_column": "._ops",
    "drop_index": "._ops",
    "drop_table": "._ops",
    "execute": "._ops",
    "EnableRowSecurity": "._row_security",
    "enable_row_security": "._row_security",
    "Migrations": "._runner",
    "RevisionStatus": "._runner",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = [
    "MigrationCalls",
    "migrations_for",
    "UNCHANGED",
    "AddColumn",
    "AlterColumn",
    "CreateIndex",
    "CreateTable",
    "DropColumn",
    "DropIndex",
    "DropTable",
    "EnableRowSecurity",
    "Execute",
    "History",
    "Migrations",
    "Operation",
    "MigrationPlan",
    "Revision",
    "RevisionStatus",
    "add_column",
    "alter_column",
    "check_keeps_data",
    "check_matches_models",
    "check_single_head",
    "check_up_down_up",
    "check_upgrade",
    "checksum",
    "column",
    "create_index",
    "create_table",
    "declared_schema",
    "diff",
    "drop_column",
    "drop_index",
    "drop_table",
    "enable_row_security",
    "execute",
    "load_history",
    "models_schema",
]
