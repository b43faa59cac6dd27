"""Token lookups cached in Redis: no query when cached, and revocation still at the next request."""

import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from blogapi.accounts.credential_cache import REVOKED, device_tokens
from blogapi.accounts.models import DeviceToken, User, token_digest
from blogapi.accounts.tests.test_device_tokens import LOGOUT, LOGOUT_ALL, ME, TOKENS, login_as
from conftest import PASSWORD, token_client

needs_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="credentials are cached only in a shared cache (Redis)"
)
# Nothing listens there: every cache call fails at once, as in an outage.
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def queries_for(key: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = token_client(key).get(ME)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in captured.captured_queries]


def refused(key: str) -> bool:
    return token_client(key).get(ME).status_code == 401


@pytest.fixture
def cached_key(alice: User) -> str:
    """alice's key, looked up once so that the cache holds it."""
    key = login_as("alice")
    assert queries_for(key)  # the first lookup reads the database
    return key


@pytest.fixture
def short_ttl(settings: Any) -> None:
    settings.AUTH_CREDENTIAL_CACHE_TTL = timedelta(seconds=1)
    cache.clear()  # no epoch of the default length left over


def test_without_a_shared_cache_every_lookup_reads_the_database(alice: User, settings: Any) -> None:
    settings.REDIS_URL = ""
    key = login_as("alice")

    for _ in range(2):
        sql = queries_for(key)
        assert len(sql) == 1
        assert "devicetoken" in sql[0].lower()


@needs_redis
def test_a_cached_token_costs_no_query(cached_key: str) -> None:
    assert queries_for(cached_key) == []


@needs_redis
def test_the_cache_holds_no_key_and_no_password_hash(cached_key: str) -> None:
    digest = token_digest(cached_key)
    entry = cache.get(device_tokens.prefix + digest)

    assert entry is not None
    token = entry[1]
    assert "password" in token.user.get_deferred_fields()
    assert cached_key not in repr(vars(token))


@needs_redis
@pytest.mark.parametrize(
    "revoke",
    [
        pytest.param(lambda key: token_client(key).post(LOGOUT), id="logout"),
        pytest.param(lambda key: token_client(key).post(LOGOUT_ALL), id="logout-all"),
        pytest.param(
            lambda key: token_client(login_as("alice")).delete(
                f"{TOKENS}token-{DeviceToken.objects.get(digest=token_digest(key)).pk}/"
            ),
            id="delete-one",
        ),
        pytest.param(lambda key: DeviceToken.objects.all().delete(), id="queryset-delete"),
        pytest.param(lambda key: User.objects.get(username="alice").delete(), id="user-delete"),
        pytest.param(lambda key: deactivate("alice"), id="deactivate"),
        pytest.param(lambda key: new_password("alice"), id="set-password"),
    ],
)
def test_every_revocation_path_refuses_a_cached_token_at_the_next_request(
    cached_key: str, revoke: Any
) -> None:
    revoke(cached_key)

    assert refused(cached_key)


def deactivate(username: str) -> None:
    user = User.objects.get(username=username)
    user.is_active = False
    user.save()


def new_password(username: str) -> None:
    user = User.objects.get(username=username)
    user.set_password("a brand new passphrase")
    user.save()


@needs_redis
def test_a_password_change_keeps_the_cached_key_that_made_it(cached_key: str) -> None:
    other = login_as("alice")
    queries_for(other)
    new = "a brand new passphrase"

    response = token_client(cached_key).post(
        "/api/v1/dj-rest-auth/password/change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        format="json",
    )

    assert response.status_code == 200
    assert not refused(cached_key)
    assert refused(other)


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_revocation_leaves_the_token_working(alice: User) -> None:
    key = login_as("alice")
    queries_for(key)

    with pytest.raises(RuntimeError, match="rolled back"):
        delete_all_then_fail()
    token_client(login_as("alice")).post(LOGOUT)  # another revocation commits meanwhile

    assert not refused(key)


@transaction.atomic
def delete_all_then_fail() -> None:
    DeviceToken.objects.all().delete()
    raise RuntimeError("rolled back")


@needs_redis
def test_a_lookup_that_read_the_row_before_a_revocation_cannot_cache_it(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = login_as("alice")
    read = device_tokens.load

    def read_then_revoke(digest: str) -> DeviceToken | None:
        found = read(digest)
        DeviceToken.objects.filter(digest=digest).delete()  # commits and tombstones meanwhile
        return found

    monkeypatch.setattr(device_tokens, "load", read_then_revoke)
    token_client(key).get(ME)  # answered from the row it read: the race this test is about
    monkeypatch.setattr(device_tokens, "load", read)

    assert cache.get(device_tokens.prefix + token_digest(key)) == REVOKED
    assert refused(key)


@needs_redis
@pytest.mark.usefixtures("short_ttl")
@pytest.mark.django_db(transaction=True)  # the wait happens at the commit
def test_a_revocation_during_an_outage_is_never_undone_by_the_recovered_cache(
    alice: User,
) -> None:
    key = login_as("alice")
    queries_for(key)
    entry_key = device_tokens.prefix + token_digest(key)
    stale_entry = cache.get(entry_key)
    assert stale_entry is not None

    with override_settings(CACHES=UNREACHABLE_REDIS):
        started = time.monotonic()
        DeviceToken.objects.filter(user=alice).delete()
        waited = time.monotonic() - started
        assert refused(key)  # during the outage the database decides

    # The cache comes back holding the entry nothing could delete (a persisted or restored
    # Redis): it is refused all the same, since the revocation waited out every older epoch.
    assert waited >= 1
    cache.set(entry_key, stale_entry, timeout=60)
    assert refused(key)


@needs_redis
def test_an_outage_while_reading_falls_back_to_the_database(cached_key: str) -> None:
    with override_settings(CACHES=UNREACHABLE_REDIS):
        sql = queries_for(cached_key)

    assert len(sql) == 1
    assert "devicetoken" in sql[0].lower()
