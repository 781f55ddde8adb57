"""The catalog entries of read replicas and the REST gateway (DF-520, DF-810..DF-812), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order, as it does with ``_catalog_cdc``.
"""

from __future__ import annotations

__all__ = ["SERVICE_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
SERVICE_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-520", "ReplicasUnavailableWarning", "Every read replica is unavailable",
        "No read replica accepted connections (each one failed and is left out for "
        "`replica_retry_interval` seconds), so reads went to the primary.",
        "Start the replicas again or fix their URLs in `read_replicas`; reads return to them by themselves "
        "once they answer. Check them with `db.get_replica_metrics()`.",
    ),
    (
        "DF-810", "ReplicaConfigurationError", "Invalid read replica setting",
        "`read_replicas` was given for a backend without streaming replication (SQLite), as one string "
        "instead of a list, with a URL of another backend or the primary itself, or with a negative "
        "`max_replica_lag` or `replica_retry_interval`.",
        "Pass a list of the replicas' PostgreSQL URLs (`read_replicas=[url]`), leave it out on SQLite, "
        "and give the lag and retry settings in seconds (>= 0).",
    ),
    (
        "DF-811", "GatewayWithoutAuthWarning", "Gateway without authentication",
        "`create_gateway_api()` was called without `auth=` (every request gets 401), or with `auth=None` "
        "(every client can read and write the exposed models).",
        "Pass an authentication dependency, `create_gateway_api(db, auth=current_user)`, that raises "
        "`HTTPException(401)` for a request it refuses; keep `auth=None` for an API that is open on purpose.",
    ),
    (
        "DF-812", "GatewayConfigurationError", "Gateway cannot be built",
        "FastAPI is not installed, `create_gateway_api()` got no `db` while several (or no) DataFlow "
        "instances are live, or `models=` names a model the instance does not declare.",
        "Install the extra (`pip install \"dataflow[gateway]\"`), pass the instance (`create_gateway_api(db)`), "
        "and list models that `db` declares.",
    ),
]
