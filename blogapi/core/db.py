"""Database connection tuning: faster timestamp parsing with exactly Django's results."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


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


def faster_converters(
    connection: BaseDatabaseWrapper, functions: list[Converter]
) -> list[Converter]:
    """Django's converters for a column, with SQLite's datetime one swapped for a direct one.

    Why: on SQLite, Django's converter puts every datetime through is_aware and make_aware
    (after the sqlite3 module parsed the text with Django's parse_datetime), ~3 us a value, and
    a list page with its token reads 42 of them. In UTC, make_aware only sets `tzinfo`, so the
    same values come out for a fraction of that; text (an expression sqlite3 did not parse) goes
    through datetime.fromisoformat, which Django's parse_datetime tries first. Anything else
    (another time zone, USE_TZ off, text fromisoformat refuses) stays with Django's converter.
    """
    if connection.vendor != "sqlite" or not settings.USE_TZ or connection.timezone_name != "UTC":
        return functions
    ops: Any = connection.ops  # SQLite's operations; django-stubs types the base class
    django_converter = ops.convert_datetimefield_value
    return [_sqlite_utc_datetime if f == django_converter else f for f in functions]


def _sqlite_utc_datetime(value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
    if type(value) is datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    ops: Any = connection.ops
    return ops.convert_datetimefield_value(value, expression, connection)
