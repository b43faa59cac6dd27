"""The migration to canonical usernames: existing rows normalized and filled, collisions refused."""

from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import connection

from conftest import fullwidth

BEFORE = ("accounts", "0003_email_canonical")
AFTER = ("accounts", "0005_username_canonical_unique")


def users_before(migrator: Any, *usernames: str) -> tuple[Any, list[int]]:
    """The users, created on the schema before the migration: that User model, their ids."""
    state = migrator.apply_initial_migration(BEFORE)
    old_user = state.apps.get_model("accounts", "User")
    return old_user, [old_user.objects.create(username=name, password="!").pk for name in usernames]


def test_existing_usernames_are_normalized_and_get_their_canonical_form(migrator: Any) -> None:
    users_before(migrator, "alice", "Bob", fullwidth("carol"), "straße")

    state = migrator.apply_tested_migration(AFTER)

    new_user = state.apps.get_model("accounts", "User")
    assert sorted(new_user.objects.values_list("username", "username_canonical")) == [
        ("Bob", "bob"),
        ("alice", "alice"),
        ("carol", "carol"),
        ("straße", "strasse"),
    ]


def test_colliding_usernames_stop_the_migration_with_a_list_of_them(migrator: Any) -> None:
    names = ["alice", "ALICE", fullwidth("alice"), "bob", "strasse", "Straße", "\ufb00" * 76]
    old_user, ids = users_before(migrator, *names)

    with pytest.raises(CommandError) as refused:
        migrator.apply_tested_migration(AFTER)

    message = str(refused.value)
    assert "Rename these accounts (all but one of each group)" in message
    alices = f"'alice' (id {ids[0]}), 'ALICE' (id {ids[1]}), '{fullwidth('alice')}' (id {ids[2]})"
    assert f"same name: {alices}" in message
    assert f"same name: 'strasse' (id {ids[4]}), 'Straße' (id {ids[5]})" in message
    assert f"too long once normalized: id {ids[6]}" in message
    assert "bob" not in message
    # Nothing changed: the names are as they were, and the column is not there yet.
    assert list(old_user.objects.order_by("pk").values_list("username", flat=True)) == names
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, "accounts_user")
    assert "username_canonical" not in {column.name for column in columns}
    old_user.objects.all().delete()  # so that the teardown can migrate forward again


def test_the_migration_runs_once_the_collisions_are_renamed(migrator: Any) -> None:
    old_user, _ = users_before(migrator, "alice", "ALICE")
    with pytest.raises(CommandError):
        migrator.apply_tested_migration(AFTER)
    old_user.objects.filter(username="ALICE").update(username="alice2")  # the operator's fix

    state = migrator.apply_tested_migration(AFTER)

    new_user = state.apps.get_model("accounts", "User")
    assert sorted(new_user.objects.values_list("username_canonical", flat=True)) == [
        "alice",
        "alice2",
    ]
