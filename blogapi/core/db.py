"""Database connection tuning applied when Django opens a connection."""

from datetime import UTC
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper


def use_c_timestamp_loader(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """On PostgreSQL in UTC, parse timestamptz columns with psycopg's C loader.

    Why: Django registers a pure-Python subclass of psycopg's loader so that every datetime
    carries Django's time zone (django/db/backends/postgresql/psycopg_any.py); parsing in
    Python costs ~7.5 us per value against ~0.8 us in C, and a list page with its token reads
    24 of them. Django sets the session's TimeZone to its own when it connects, and in UTC the
    C loader returns exactly what Django's does (aware datetimes with `datetime.timezone.utc`).
    In any other zone, or without psycopg's C implementation, Django's loader stays.
    """
    if connection.vendor != "postgresql" or connection.timezone_name != "UTC":
        return
    import psycopg
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    if psycopg.pq.__impl__ == "python":
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") not in ("UTC", "Etc/UTC"):
        return
    oid = psycopg.postgres.types["timestamptz"].oid
    found = psycopg.adapters.get_loader(oid, Format.TEXT)
    if found is None:
        return
    c_loader = found

    class UtcTimestamptzLoader(Loader):
        """psycopg's C parsing; `timezone` tells Django its own loader is not needed."""

        timezone = UTC

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._parse = c_loader(oid, context).load

        def load(self, data: Any) -> Any:
            return self._parse(data)

    raw.adapters.register_loader("timestamptz", UtcTimestamptzLoader)
