"""The catalog entries of change data capture (DF-410, DF-411, DF-513..DF-516), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order; it is still the one source of truth, in two files.
"""

from __future__ import annotations

__all__ = ["CDC_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
CDC_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-410", "UnknownSourceTableError", "Unknown change capture source table",
        "A `ChangeDataCaptureNode` or `db.change_feed(...)` names a `source_table` that no model declares "
        "(on the bound instance, or on any live instance for an unbound `WorkflowBuilder()`), or several "
        "live instances declare it and an unbound builder cannot tell which database to read.",
        "Pass the model class, its name (`Customer`) or its table name (`customers`) of a model declared "
        "with `@db.model`; with several instances, build the workflow with `db.workflow()`.",
    ),
    (
        "DF-411", "InvalidCaptureParameterError", "Invalid change capture parameter",
        "A change capture parameter is not one DataFlow accepts: an operation other than `INSERT`, "
        "`UPDATE` and `DELETE`, an empty operation list, a feed name that is not 1 to 40 lowercase "
        "letters, digits and underscores starting with a letter, a limit that is not a positive integer, "
        "or an `acknowledge` that is not True or False.",
        'Capture some of `["INSERT", "UPDATE", "DELETE"]`, name the feed like `billing_v2`, and read '
        "at least one change at a time.",
    ),
    (
        "DF-513", "LogicalDecodingUnavailableError", "PostgreSQL logical decoding unavailable",
        "Change feeds read row changes from PostgreSQL's write-ahead log through a replication slot: the "
        "server runs with a `wal_level` other than `logical`, or the user in the URL is neither a superuser "
        "nor a role with the `REPLICATION` attribute.",
        "Run `ALTER SYSTEM SET wal_level = logical;` as a superuser and restart PostgreSQL (or start it with "
        "`-c wal_level=logical`; managed servers call it logical replication), and grant the role "
        "`ALTER ROLE app REPLICATION;`.",
    ),
    (
        "DF-514", "ChangeFeedExistsError", "Change feed already exists",
        "`feed.create()` was called for a feed name that already exists in this database (a feed row "
        "or its PostgreSQL replication slot), for instance by an earlier run or another service.",
        "Use the existing feed (`await feed.exists()` tells), or drop it first with `await feed.drop()` "
        "if its position may be thrown away.",
    ),
    (
        "DF-515", "ChangeFeedNotFoundError", "Change feed does not exist",
        "A feed was read, acknowledged or dropped before `await feed.create()` made it, after "
        "`feed.drop()`, or its PostgreSQL replication slot was dropped outside DataFlow.",
        "Create the feed once, outside the consumer loop (`await db.change_feed(\"customers\").create()`); "
        "when only its slot is gone, `await feed.drop()` and create it again.",
    ),
    (
        "DF-516", "ChangeCaptureOutdatedError", "Change capture triggers are outdated",
        "On SQLite the capture triggers list the table's columns: a migration added or dropped columns "
        "since `feed.create()`, or rebuilt the table, which drops its triggers.",
        "Run `await feed.refresh()` after every migration of a captured table, in the same deploy step "
        "as the migration, so the triggers list the new columns.",
    ),
]
