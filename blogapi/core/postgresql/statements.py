"""Named server-side statements on PostgreSQL: PREPARE once per session, then EXECUTE with values.

Why SQL `PREPARE`/`EXECUTE` rather than psycopg's own (`prepare=True`): psycopg prepares only
with server-side binding, and Django connects with client-side binding and
`prepare_threshold=None`. Measured on the list's two queries (docs/benchmarks.md), psycopg's
server-side binding cost the workers more CPU than PostgreSQL saved. Here the values are still
bound on the client by Django's cursor, into a short `EXECUTE name(…)`, and PostgreSQL skips
parsing and planning the query again: ~0.2 of its ~0.4 ms per list request.

A prepared statement belongs to one server session, so the bookkeeping follows the driver's
connection: a reconnect (CONN_MAX_AGE, a restart) starts with none. A statement the server does
not know (a pooler in transaction mode handing us another session, `DISCARD ALL`) or can no
longer run as prepared (a column's type changed under it) is never an error for the caller:
the query runs as plain SQL instead, and the statement is prepared again on next use. A session
that keeps losing its statements stops preparing. Only used outside transactions, where a
failed statement leaves nothing to roll back.
"""

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from psycopg import ClientCursor, errors, pq

# After this many statements lost by one session, it runs plain SQL for the rest of its life.
MAX_LOST_STATEMENTS = 3
# Seconds a statement keeps its plan, then it is prepared again. A plan is made for the table
# as it was: a first page planned on a table of 10 posts scans and sorts the table, which at
# 100,000 posts takes 20 ms instead of 0.1 ms, until ANALYZE (autovacuum, within a minute or
# so of a bulk load) or a new connection replaces the plan. This bounds that time for one extra
# round trip per statement and connection every so often.
REPLAN_AFTER = 10.0

# Django's SQL is meant for %-style interpolation: `%s` is a parameter and `%%` a literal `%`.
_PLACEHOLDER = re.compile(r"%[s%]")

# What may happen to a prepared statement that plain SQL does not suffer: the session lost it
# (26000), its plan no longer fits the tables (0A000 "cached plan must not change result
# type"), or a value does not fit the parameter type inferred from its column where a literal
# in plain SQL still compares (22003, e.g. an integer beyond bigint).
_STATEMENT_FAILURES = (
    errors.InvalidSqlStatementName,
    errors.FeatureNotSupported,
    errors.NumericValueOutOfRange,
)


@dataclass(frozen=True)
class NamedStatement:
    """One query's plain SQL and the PREPARE / EXECUTE that stand in for it."""

    sql: str
    name: str
    prepare_sql: str
    execute_sql: str

    @classmethod
    def for_query(cls, sql: str, param_count: int) -> "NamedStatement":
        """Named after its text, so that one name always means one query in any session."""
        numbers = iter(range(1, param_count + 1))
        text = _PLACEHOLDER.sub(
            lambda match: "%" if match.group() == "%%" else f"${next(numbers)}", sql
        )
        if next(numbers, None) is not None:
            raise ValueError(f"{param_count} parameters for a query with fewer placeholders")
        name = "blogapi_" + hashlib.sha256(text.encode()).hexdigest()[:24]
        arguments = f"({', '.join(['%s'] * param_count)})" if param_count else ""
        return cls(sql, name, f"PREPARE {name} AS {text}", f"EXECUTE {name}{arguments}")

    def run(self, connection: BaseDatabaseWrapper, cursor: CursorWrapper, params: Any) -> None:
        """Run the query on `cursor` (fetch from it as usual), prepared where it can be."""
        execute(connection, cursor, self, params)

    @staticmethod
    def run_together(
        connection: BaseDatabaseWrapper,
        cursor: CursorWrapper,
        batch: Sequence[tuple["NamedStatement", Sequence[Any]]],
    ) -> list[list[Any]] | None:
        """execute_together: reached through a statement, so callers import nothing per call."""
        return execute_together(connection, cursor, batch)


@dataclass
class _Session:
    prepared: dict[str, float] = field(default_factory=dict)  # name: when (time.monotonic())
    lost: int = 0

    def is_fresh(self, name: str, now: float) -> bool:
        prepared_at = self.prepared.get(name)
        return prepared_at is not None and now - prepared_at < REPLAN_AFTER

    def lose_all(self) -> None:
        """What loses one statement (DISCARD ALL, another pooled session) loses them all."""
        self.prepared.clear()
        self.lost += 1


# Keyed by the driver's connection: its server session is what holds the statements.
_sessions: WeakKeyDictionary[Any, _Session] = WeakKeyDictionary()


def _session_for(connection: BaseDatabaseWrapper, cursor: CursorWrapper) -> _Session | None:
    """The connection's statements, or None where plain SQL must run.

    Plain SQL in a transaction (a failed EXECUTE would abort it), with server-side binding
    (`EXECUTE name($1)` takes no bound parameters), and in a session that keeps losing them.
    """
    if (
        connection.in_atomic_block
        or not connection.get_autocommit()
        or not isinstance(getattr(cursor, "cursor", None), ClientCursor)
    ):
        return None
    session = _sessions.setdefault(connection.connection, _Session())
    return session if session.lost < MAX_LOST_STATEMENTS else None


def execute(
    connection: BaseDatabaseWrapper,
    cursor: CursorWrapper,
    statement: NamedStatement,
    params: Sequence[Any],
) -> None:
    """NamedStatement.run: EXECUTE, after PREPARE on the session's first use; else plain SQL."""
    session = _session_for(connection, cursor)
    if session is None:
        cursor.execute(statement.sql, params)
        return
    try:
        now = time.monotonic()
        if not session.is_fresh(statement.name, now):
            _prepare(cursor, statement, replace=statement.name in session.prepared)
            session.prepared[statement.name] = now
        cursor.execute(statement.execute_sql, params)
    except DatabaseError as error:
        cause = error.__cause__
        if not isinstance(cause, _STATEMENT_FAILURES):
            raise
        if isinstance(cause, errors.InvalidSqlStatementName):
            session.lose_all()
        elif isinstance(cause, errors.FeatureNotSupported):
            session.prepared.pop(statement.name, None)
            cursor.execute(f"DEALLOCATE {statement.name}")
        cursor.execute(statement.sql, params)


def execute_together(
    connection: BaseDatabaseWrapper,
    cursor: CursorWrapper,
    batch: Sequence[tuple[NamedStatement, Sequence[Any]]],
) -> list[list[Any]] | None:
    """Each statement's rows, all sent in one round trip; None where that cannot be done.

    Several statements in one query string go as one simple-protocol query (client-side
    binding, Django's default); the caller runs the statements one by one on None.
    """
    session = _session_for(connection, cursor)
    if session is None:
        return None
    now = time.monotonic()
    unprepared = [s for s, _ in batch if not session.is_fresh(s.name, now)]
    text = [f"DEALLOCATE {s.name}" for s in unprepared if s.name in session.prepared]
    # With parameters in the string, a literal % is written %%.
    text += [s.prepare_sql.replace("%", "%%") for s in unprepared]
    text += [s.execute_sql for s, _ in batch]
    params = [value for _, values in batch for value in values]
    try:
        cursor.execute("; ".join(text), params)
        results = []
        while True:
            # PREPARE gives no rows. (Not cursor.description: it builds an object per column.)
            if cursor.pgresult.status == pq.ExecStatus.TUPLES_OK:
                results.append(cursor.fetchall())
            if not cursor.nextset():
                break
    except DatabaseError as error:
        cause = error.__cause__
        if not isinstance(cause, (*_STATEMENT_FAILURES, errors.DuplicatePreparedStatement)):
            raise
        # Run one by one, where each failure has its own remedy (DEALLOCATE, plain SQL).
        if isinstance(cause, errors.InvalidSqlStatementName):
            session.lose_all()
        else:
            for statement, _ in batch:
                session.prepared.pop(statement.name, None)
        return None
    session.prepared.update((s.name, now) for s in unprepared)
    if len(results) != len(batch):
        raise RuntimeError(f"{len(batch)} statements gave {len(results)} results")
    return results


def _prepare(cursor: CursorWrapper, statement: NamedStatement, *, replace: bool) -> None:
    try:
        if replace:
            cursor.execute(f"DEALLOCATE {statement.name}; {statement.prepare_sql}")
        else:
            cursor.execute(statement.prepare_sql)
    except DatabaseError as error:
        # A session we did not open (a pooler's) may hold it already: same name, same query.
        if not isinstance(error.__cause__, errors.DuplicatePreparedStatement):
            raise
