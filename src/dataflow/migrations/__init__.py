"""Migration operations for revision files, and the ``migrate`` commands.

A revision file imports the operations it lists from here::

    from dataflow.migrations import add_column, drop_column

    revision = "0002_add_nickname"
    parent = "0001_add_user_table"
    message = "add nickname"

    upgrade = [add_column("users", "nickname", "str", default="")]
    downgrade = [drop_column("users", "nickname")]

The commands run as ``dataflow migrate --app myapp.models:db COMMAND`` (or
``python -m dataflow.migrations --app ...``): ``generate``, ``up``, ``down``, ``history``,
``current``, ``check``, ``repair``, ``stamp``; :func:`add_arguments` and :func:`run` mount the same
commands under another program's parser.
"""

from .._migrations import (
    UNCHANGED,
    add_column,
    alter_column,
    column,
    create_index,
    create_table,
    drop_column,
    drop_index,
    drop_table,
    enable_row_security,
    execute,
)
from .._schema import NO_DEFAULT, SQL
from ._cli import DESCRIPTION, add_arguments, main, run

__all__ = [
    "DESCRIPTION",
    "NO_DEFAULT",
    "SQL",
    "UNCHANGED",
    "add_arguments",
    "add_column",
    "alter_column",
    "column",
    "create_index",
    "create_table",
    "drop_column",
    "drop_index",
    "drop_table",
    "enable_row_security",
    "execute",
    "main",
    "run",
]
