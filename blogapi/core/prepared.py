"""Querysets compiled to SQL once per database connection, then run with new parameter values.

Why hand-written: Django compiles a queryset's SQL on every evaluation, and for the two queries
on every authenticated read (the token with its user, a page of posts with their authors) that
compilation cost more than running them (docs/benchmarks.md: ~0.5 ms of CPU of a ~0.6 ms token
lookup on SQLite). Django has no statement cache and no maintained library adds one without
also caching results, which would break "revocation takes effect at the next request". So the
ORM still builds the query (once), and rows become model instances through Django's own
machinery (from_db, converters, select_related populators); only the compiled SQL is reused.

A prepared query names the types of its parameters (str or int) and is built once with
*sentinels* of those types: distinctive values that must reach the SQL parameters exactly once
and unchanged. A str sentinel holds upper and lower case, quotes, `%`, `_` and a backslash, so a
lookup that transforms its value (LIKE escaping for iexact/contains on SQLite, wrapping in `%`,
case folding in Python) is refused when compiling instead of silently matching the wrong rows.
What passes, such as `=` on a CharField or an integer key, takes any value of the type as is.

A model queryset gives model instances; a `values_list()` queryset gives tuples of converted
values (a projection: no model instance to build per row).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]  # not in django-stubs
    ModelIterable,
    ValuesListIterable,
    get_related_populators,
)

from blogapi.core.db import faster_converters

if TYPE_CHECKING:
    from blogapi.core.postgresql.statements import NamedStatement

M = TypeVar("M", bound=Model)
Param = str | int
_SENTINEL_TEXT = "Prepared'\"%_\\Sentinel-"
_SENTINEL_NUMBER = -7_302_118_290_375_221


def _sentinel(kind: type[Param], index: int) -> Param:
    if kind is str:
        return f"{_SENTINEL_TEXT}{index}"
    if kind is int:
        return _SENTINEL_NUMBER - index
    raise TypeError(f"parameters are str or int, not {kind!r}")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where each argument goes in `params`
    model: type[Model] | None  # None: a values_list() projection, rows stay tuples
    init_list: list[str]
    model_columns: slice
    populators: list[Any]
    converters: list[tuple[int, tuple[list[Callable[..., Any]], Any]]]
    statement: "NamedStatement | None" = None  # PostgreSQL: PREPAREd once per session


class PreparedQuery(Generic[M]):
    """`build(*sentinels)` compiled once per connection; `fetch(*values)` runs it with values."""

    def __init__(self, build: Callable[..., QuerySet[M, Any]], *kinds: type[Param]) -> None:
        self._build, self._kinds = build, kinds
        self._sentinels = tuple(_sentinel(kind, i) for i, kind in enumerate(kinds))
        # Per connection object: every thread has its own, and a compiled query's converters
        # belong to the connection that compiled it.
        self._compiled: WeakKeyDictionary[BaseDatabaseWrapper, _Compiled] = WeakKeyDictionary()

    def _compile(self, connection: BaseDatabaseWrapper) -> _Compiled:
        queryset = self._build(*self._sentinels)
        projection = queryset._iterable_class is ValuesListIterable
        if not projection and queryset._iterable_class is not ModelIterable:
            raise ValueError("only model querysets and plain values_list() can be prepared")
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = []
        for sentinel in self._sentinels:
            found = [i for i, param in enumerate(params) if param == sentinel]
            if len(found) != 1 or type(params[found[0]]) is not type(sentinel):
                raise ValueError(f"sentinel {sentinel!r} must appear once, unchanged, in {params}")
            slots.append(found[0])
        statement = None
        if connection.vendor == "postgresql":
            # Imported here: SQLite deployments never load psycopg.
            from blogapi.core.postgresql.statements import NamedStatement

            statement = NamedStatement.for_query(sql, len(params))
        klass_info, select = compiler.klass_info, compiler.select
        converters = [
            (position, (faster_converters(connection, functions), expression))
            for position, (functions, expression) in compiler.get_converters(
                [column for column, _, _ in select]
            ).items()
        ]
        if projection or klass_info is None:
            return _Compiled(
                sql, tuple(params), tuple(slots), None, [], slice(0), [], converters, statement
            )
        columns = klass_info["select_fields"]
        model_columns = slice(columns[0], columns[-1] + 1)
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            model=klass_info["model"],
            init_list=[column.target.attname for column, _, _ in select[model_columns]],
            model_columns=model_columns,
            populators=get_related_populators(klass_info, select, connection.alias),
            converters=converters,
            statement=statement,
        )

    def fetch(
        self, *values: Param, request: Any = None, using: str = DEFAULT_DB_ALIAS
    ) -> list[Any]:
        """What the built queryset would give for these parameter values (instances or tuples).

        `request`: rows read ahead for exactly this query and these values (read_ahead) are
        taken from it instead of asking the database again.
        """
        ahead = getattr(request, _READ_AHEAD, None)
        if ahead is not None and ahead.rows is not None and ahead.matches(self, values):
            taken: list[Any] = ahead.rows
            ahead.rows = None  # read once, as a query would be
            return taken
        connection = connections[using]
        compiled, params = self._bind(connection, values)
        with connection.cursor() as cursor:
            if compiled.statement is None:
                cursor.execute(compiled.sql, params)
            else:
                compiled.statement.run(connection, cursor, params)
            rows: Sequence[Any] = cursor.fetchall()
        return [self._instance(compiled, row, connection) for row in rows]

    def fetch_with_read_ahead(self, request: Any, *values: Param) -> list[Any]:
        """fetch(*values), and in the same round trip the read `request` asked for (read_ahead)."""
        ahead = getattr(request, _READ_AHEAD, None)
        if ahead is None or ahead.rows is not None:
            return self.fetch(*values)
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor != "postgresql":
            return self.fetch(*values)  # SQLite: no round trip to save
        mine, my_params = self._bind(connection, values)
        theirs, their_params = ahead.query._bind(connection, ahead.values)
        if mine.statement is None or theirs.statement is None:  # compiled on PostgreSQL: never
            return self.fetch(*values)
        with connection.cursor() as cursor:
            results = mine.statement.run_together(
                connection, cursor, [(mine.statement, my_params), (theirs.statement, their_params)]
            )
        if results is None:  # in a transaction, or the session cannot keep statements
            return self.fetch(*values)
        ahead.rows = [ahead.query._instance(theirs, row, connection) for row in results[1]]
        return [self._instance(mine, row, connection) for row in results[0]]

    def _bind(
        self, connection: BaseDatabaseWrapper, values: tuple[Param, ...]
    ) -> tuple[_Compiled, list[Any]]:
        if len(values) != len(self._kinds) or any(
            type(value) is not kind for value, kind in zip(values, self._kinds, strict=False)
        ):
            raise TypeError(f"expected values of types {self._kinds}, got {values!r}")
        compiled = self._compiled.get(connection)
        if compiled is None:
            compiled = self._compiled[connection] = self._compile(connection)
        params = list(compiled.params)
        for slot, value in zip(compiled.slots, values, strict=True):
            params[slot] = value
        return compiled, params

    @staticmethod
    def _instance(compiled: _Compiled, row: Any, connection: BaseDatabaseWrapper) -> Any:
        if compiled.converters:
            row = list(row)
            for position, (functions, expression) in compiled.converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
        if compiled.model is None:
            return tuple(row)
        instance = compiled.model.from_db(
            connection.alias, compiled.init_list, row[compiled.model_columns]
        )
        for populator in compiled.populators:
            populator.populate(row, instance)
        return instance


_READ_AHEAD = "_blogapi_read_ahead"


@dataclass
class ReadAhead:
    """A read a view will make whoever is signed in, fetched with the token lookup when it can be.

    The view asks before authentication (read_ahead); the token authentication sends its lookup
    and this read in one round trip (fetch_with_read_ahead); the view's own fetch of the same
    query and values then takes the rows. The rows are only ever used by the view's handler,
    which DRF runs after authentication and permissions passed. Without a token, or where the
    two cannot share a round trip, the view's fetch simply asks the database itself.
    """

    query: PreparedQuery[Any]
    values: tuple[Param, ...]
    rows: list[Any] | None = None

    def matches(self, query: PreparedQuery[Any], values: tuple[Param, ...]) -> bool:
        return query is self.query and [(type(v), v) for v in values] == [
            (type(v), v) for v in self.values
        ]


def read_ahead(request: Any, query: PreparedQuery[Any], *values: Param) -> None:
    """Ask that `query.fetch(*values, request=request)` be read with the token lookup."""
    setattr(request, _READ_AHEAD, ReadAhead(query, values))
