"""The migration engine: revision files, autogenerate, applying and rolling back.

The public face is ``db.migrations`` (:class:`Migrations`), ``db.migrate()`` /
``db.rollback()`` / ``db.generate_migration()``, and :mod:`dataflow.migrations`, which revision
files import their operations from.
"""

from ._calls import MigrationCalls
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
from ._runner import Migrations, RevisionStatus

__all__ = [
    "MigrationCalls",
    "UNCHANGED",
    "AddColumn",
    "AlterColumn",
    "CreateIndex",
    "CreateTable",
    "DropColumn",
    "DropIndex",
    "DropTable",
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
    "execute",
    "load_history",
    "models_schema",
]
