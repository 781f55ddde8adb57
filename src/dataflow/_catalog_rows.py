"""The catalog entries of soft delete and versioned rows (DF-310, DF-311, DF-416, DF-417, DF-817), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order.
"""

from __future__ import annotations

__all__ = ["ROW_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
ROW_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-310", "StaleRecordError", "Record changed since it was read",
        "An Update or Delete node of a model declared with `@db.model(versioned=True)` passed "
        "`expected_version`, the version its caller read, and the record is at another version now: "
        "another writer changed it in between, and writing now would overwrite that change (a lost update).",
        "Read the record again, apply the change to the new values and write with the new `version` "
        "(or report the conflict to the user); the error's context has `expected_version` and "
        "`current_version`.",
    ),
    (
        "DF-311", "DeletedRecordConflictError", "Upsert key belongs to a soft-deleted record",
        "An Upsert or BulkUpsert node of a model declared with `@db.model(soft_delete=True)` matches on the "
        "primary key, and the record with that key is soft-deleted: an upsert never updates a deleted "
        "record, and the key cannot be inserted twice.",
        "Restore the record first (an Update node with `restore=True`), remove it for good (a Delete node "
        "with `hard=True`), or give the new record another id.",
    ),
    (
        "DF-416", "RowOptionNotEnabledError", "Model option not enabled",
        "A node got `include_deleted`, `hard` or `restore`, which only models declared with "
        "`@db.model(soft_delete=True)` take, or `expected_version`, which only models declared with "
        "`@db.model(versioned=True)` take.",
        "Declare the model with the option (`@db.model(soft_delete=True)`, `@db.model(versioned=True)`, "
        "or both) and migrate its table, or leave the parameter out.",
    ),
    (
        "DF-417", "ManagedFieldError", "Managed field written",
        "A create, update, upsert or bulk node sets `deleted_at` (added by `soft_delete=True`) or "
        "`version` (added by `versioned=True`): DataFlow maintains both, so a value of the caller's "
        "would break soft deletes or the version check.",
        "Leave the field out: delete with a Delete node, undo it with `restore=True` on an Update node, "
        "and pass the version you read as `expected_version`.",
    ),
    (
        "DF-817", "InvalidModelOptionError", "Invalid model option",
        "`@db.model(soft_delete=...)` or `@db.model(versioned=...)` got something other than True or "
        "False, or the class declares the field the option adds (`deleted_at` or `version`).",
        "Pass `soft_delete=True` / `versioned=True`, and remove the `deleted_at` / `version` annotation "
        "from the class (the option adds the field); rename a field of that name that means something else.",
    ),
]
