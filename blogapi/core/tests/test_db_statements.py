"""PostgreSQL: hot queries are prepared once per session, never failing where plain SQL works."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.core.postgresql import statements
from blogapi.core.postgresql.statements import NamedStatement
from blogapi.core.prepared import PreparedQuery
from blogapi.posts.models import Post
from conftest import login, token_client

pytestmark = [
    # Outside a test transaction: statements are only prepared in autocommit.
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only (make pytest-postgres)"
    ),
]


def prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'blogapi_%%'")
        return {name for (name,) in cursor.fetchall()}


def sent(queries: CaptureQueriesContext) -> list[str]:
    """Each round trip's statements by their first word ("EXECUTE", "PREPARE; EXECUTE", …)."""
    return [
        "; ".join(part.split(None, 1)[0].upper() for part in query["sql"].split("; "))
        for query in queries.captured_queries
    ]


@pytest.fixture
def reader(alice: User) -> Iterator[APIClient]:
    for n in range(3):
        Post.objects.create(author=alice, title=f"Post {n}", body="body")
    client = token_client(login(APIClient(), "alice"))
    close_old_connections()
    connection.close()  # a new session: nothing prepared yet
    yield client
    connection.close()


def plain(client: APIClient, path: str) -> Any:
    """The same request inside a transaction, where nothing is prepared: plain SQL's answer."""
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert sent(queries) == ["SELECT", "SELECT"]
    return response.json()


def test_list_and_detail_prepare_once_per_session_then_execute(reader: APIClient) -> None:
    newest = Post.objects.order_by("-created_at", "-id").first()
    assert newest is not None
    for path in ("/api/v1/", f"/api/v1/{newest.pk}/"):
        with CaptureQueriesContext(connection) as first:
            answer = reader.get(path)
        with CaptureQueriesContext(connection) as second:
            again = reader.get(path)

        assert answer.status_code == again.status_code == 200
        assert answer.json() == again.json() == plain(reader, path)
        # The token lookup and the page (or post) in one round trip, prepared the first time.
        assert sent(second) == ["EXECUTE; EXECUTE"]
        assert sent(first) in (
            ["PREPARE; PREPARE; EXECUTE; EXECUTE"],
            ["PREPARE; EXECUTE; EXECUTE"],
        )
    assert len(prepared_names()) == 3  # the token lookup, the first page, a post by id


def test_statements_lost_by_the_session_are_no_error_and_prepared_again(
    reader: APIClient,
) -> None:
    expected = reader.get("/api/v1/").json()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what DISCARD ALL or another pooled session leaves

    with CaptureQueriesContext(connection) as lost:
        answer = reader.get("/api/v1/")
    with CaptureQueriesContext(connection) as after:
        again = reader.get("/api/v1/")

    assert answer.status_code == again.status_code == 200
    assert answer.json() == again.json() == expected
    assert sent(lost) == ["EXECUTE; EXECUTE", "PREPARE", "EXECUTE", "PREPARE", "EXECUTE"]
    assert sent(after) == ["EXECUTE; EXECUTE"]


def test_a_session_that_keeps_losing_statements_stops_preparing(reader: APIClient) -> None:
    expected = reader.get("/api/v1/").json()
    for _ in range(statements.MAX_LOST_STATEMENTS):
        reader.get("/api/v1/")  # prepares what the last loss left unprepared
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        assert reader.get("/api/v1/").json() == expected

    with CaptureQueriesContext(connection) as queries:
        answer = reader.get("/api/v1/")

    assert answer.json() == expected
    assert sent(queries) == ["SELECT", "SELECT"]
    connection.close()
    with CaptureQueriesContext(connection) as fresh:
        reader.get("/api/v1/")
    assert sent(fresh) == ["PREPARE; PREPARE; EXECUTE; EXECUTE"]


def test_a_new_session_prepares_again(reader: APIClient) -> None:
    reader.get("/api/v1/")
    names = prepared_names()
    connection.close()

    assert prepared_names() == set()
    with CaptureQueriesContext(connection) as queries:
        assert reader.get("/api/v1/").status_code == 200
    assert sent(queries) == ["PREPARE; PREPARE; EXECUTE; EXECUTE"]
    assert prepared_names() == names


def test_a_statement_already_in_the_session_is_used(reader: APIClient) -> None:
    reader.get("/api/v1/")
    statements._sessions.clear()  # a pooled session someone else prepared: same names

    with CaptureQueriesContext(connection) as queries:
        answer = reader.get("/api/v1/")

    assert answer.status_code == 200
    assert sent(queries) == [
        "PREPARE; PREPARE; EXECUTE; EXECUTE",  # refused: the session has them
        "PREPARE",
        "EXECUTE",
        "PREPARE",
        "EXECUTE",
    ]


@pytest.fixture
def scratch_table() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE statements_scratch (id bigint PRIMARY KEY, label varchar(20))")
        cursor.execute("INSERT INTO statements_scratch VALUES (1, 'one'), (2, 'two')")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS statements_scratch")


def run(statement: NamedStatement, params: list[Any]) -> list[Any]:
    with connection.cursor() as cursor:
        statement.run(connection, cursor, params)
        return list(cursor.fetchall())


def test_a_plan_that_no_longer_fits_its_table_falls_back_and_is_replaced(
    scratch_table: None,
) -> None:
    statement = NamedStatement.for_query(
        "SELECT label FROM statements_scratch WHERE id = %s AND label LIKE 'o%%'", 1
    )
    assert run(statement, [1]) == [("one",)]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE statements_scratch ALTER COLUMN label TYPE text")

    with CaptureQueriesContext(connection) as queries:
        assert run(statement, [1]) == [("one",)]
    assert sent(queries) == ["EXECUTE", "DEALLOCATE", "SELECT"]
    assert run(statement, [1]) == [("one",)]
    assert statement.name in prepared_names()


def test_values_beyond_the_inferred_parameter_type_answer_like_plain_sql(
    scratch_table: None,
) -> None:
    statement = NamedStatement.for_query("SELECT label FROM statements_scratch WHERE id = %s", 1)

    assert run(statement, [2]) == [("two",)]
    assert run(statement, [10**30]) == []
    assert run(statement, [2]) == [("two",)]
    assert statement.name in prepared_names()


def test_other_errors_are_not_hidden(scratch_table: None) -> None:
    statement = NamedStatement.for_query("SELECT 1 / id FROM statements_scratch WHERE id = %s", 1)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO statements_scratch VALUES (0, 'zero')")

    with pytest.raises(Exception, match="division by zero"):
        run(statement, [0])
    assert run(statement, [1]) == [(1,)]


def test_prepared_queries_still_match_the_orm_in_autocommit(alice: User) -> None:
    for n in range(3):
        Post.objects.create(author=alice, title=f"%_'{n}", body="b")
    prepared = PreparedQuery(
        lambda author_id: (
            Post.objects.filter(author_id=author_id, title__startswith="%_")
            .order_by("id")
            .values_list("id", "title", "created_at")
        ),
        int,
    )
    connection.close()

    with CaptureQueriesContext(connection) as queries:
        found = prepared.fetch(alice.pk)

    assert sent(queries) == ["PREPARE", "EXECUTE"]
    assert found == list(
        Post.objects.filter(author_id=alice.pk)
        .order_by("id")
        .values_list("id", "title", "created_at")
    )
    assert len(found) == 3


def test_names_follow_the_query_text() -> None:
    one = NamedStatement.for_query("SELECT %s, '%%'", 1)

    assert one == NamedStatement.for_query("SELECT %s, '%%'", 1)
    assert one.name != NamedStatement.for_query("SELECT %s, '%%x'", 1).name
    assert one.prepare_sql == f"PREPARE {one.name} AS SELECT $1, '%'"
    assert one.execute_sql == f"EXECUTE {one.name}(%s)"
    none = NamedStatement.for_query("SELECT 1", 0)
    assert none.execute_sql == f"EXECUTE {none.name}"
    with pytest.raises(ValueError, match="fewer placeholders"):
        NamedStatement.for_query("SELECT %s", 2)


def test_with_server_side_binding_queries_run_as_plain_sql(
    reader: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reader.get("/api/v1/").json()
    options = {**connection.settings_dict["OPTIONS"], "server_side_binding": True}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    connection.close()

    with CaptureQueriesContext(connection) as queries:
        answer = reader.get("/api/v1/")

    assert answer.json() == expected
    assert sent(queries) == ["SELECT", "SELECT"]


def plan(statement: NamedStatement, params: list[Any]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement.execute_sql}", params)
        return " ".join(line for (line,) in cursor.fetchall())


def test_a_plan_made_for_a_small_table_is_replaced_after_replan_after(
    scratch_table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The list's first page: no parameter, ordered by an index, planned on a table of 2 rows.
    statement = NamedStatement.for_query(
        "SELECT id FROM statements_scratch ORDER BY label DESC, id DESC LIMIT 2", 0
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX statements_scratch_newest ON statements_scratch (label DESC, id DESC)"
        )
        cursor.execute("ANALYZE statements_scratch")
    for _ in range(7):  # past PostgreSQL's five custom plans: the generic plan is cached
        run(statement, [])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO statements_scratch SELECT n, 'x' FROM generate_series(3, 50000) n"
        )
    assert "Seq Scan" in plan(statement, [])  # made for 2 rows: scans and sorts 50,000

    monkeypatch.setattr(statements, "REPLAN_AFTER", 0.0)
    with CaptureQueriesContext(connection) as queries:
        assert run(statement, []) == [(50000,), (49999,)]

    assert sent(queries) == ["DEALLOCATE; PREPARE", "EXECUTE"]
    assert "Seq Scan" not in plan(statement, [])  # an index scan on the table as it is now


def test_the_batch_prepares_stale_statements_again_in_the_same_round_trip(
    reader: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reader.get("/api/v1/").json()
    monkeypatch.setattr(statements, "REPLAN_AFTER", 0.0)

    with CaptureQueriesContext(connection) as queries:
        assert reader.get("/api/v1/").json() == expected

    assert sent(queries) == [
        "DEALLOCATE; DEALLOCATE; PREPARE; PREPARE; EXECUTE; EXECUTE",
    ]
