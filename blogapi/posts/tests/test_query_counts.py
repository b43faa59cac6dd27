"""SQL queries per request: exact for the post reads, a small bound for every other endpoint.

The post reads (list, a cursor page, a post) are counted exactly at 1 and at 50 posts. Every other
endpoint runs at 5 and at 200 rows (posts, users, alice's device tokens and her browser sessions)
under one bound, so a query that grows with the data (an N+1, a per-row check) fails here.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts import credential_cache
from blogapi.accounts.models import AccountActivity, DeviceToken, User, token_digest
from blogapi.core.models import RateLimitBucket
from blogapi.posts import read_cache
from blogapi.posts.models import Post
from conftest import PASSWORD, login, mailed_link, token_client

NEW_PASSWORD = "a brand new passphrase"
RESET_LINK = r"/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/"
CONFIRM_LINK = r"/registration/account-confirm-email/(?P<key>[^/\s]+)/"


@dataclass
class World:
    """alice signed in with a token, and `size` posts, users, extra tokens and feed rows of hers."""

    size: int
    alice: User
    alice_client: APIClient
    anon: APIClient
    post: Post
    token: DeviceToken


@pytest.fixture(params=[5, 200], ids=lambda size: f"{size}-rows")
def world(request: pytest.FixtureRequest, alice: User, bob: User) -> World:
    size: int = request.param
    User.objects.bulk_create(User(username=f"reader{n}", password="!") for n in range(size))
    now = timezone.now()
    Post.objects.bulk_create(
        Post(author=alice if n % 2 else bob, title=f"Post {n}", body="Body") for n in range(size)
    )
    DeviceToken.objects.bulk_create(
        DeviceToken(
            user=alice,
            digest=token_digest(secrets.token_urlsafe()),
            label=f"Device {n}",
            expires_at=now + settings.AUTH_TOKEN_TTL,
            last_used_at=now - timedelta(seconds=n),
        )
        for n in range(size)
    )
    browser_sessions_create(alice, size)
    AccountActivity.objects.bulk_create(
        AccountActivity(user=alice, event="login.succeeded") for _ in range(size)
    )
    return World(
        size=size,
        alice=alice,
        alice_client=token_client(login(APIClient(), "alice")),
        anon=APIClient(),
        post=Post.objects.filter(author=alice).latest("created_at"),
        token=DeviceToken.objects.get(user=alice, label="Device 0"),
    )


def browser_sessions_create(user: User, count: int) -> None:
    """`count` live browser sessions of the user, as a login in a browser leaves them."""
    now = timezone.now()
    data = {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }
    keys = [secrets.token_hex(16) for _ in range(count)]
    Session.objects.bulk_create(
        Session(
            session_key=key,
            session_data=SessionStore().encode(data),
            expire_date=now + timedelta(days=1),
        )
        for key in keys
    )
    UserSession.objects.bulk_create(
        UserSession(user=user, session_key=key, ip="192.0.2.1", user_agent=f"Browser {n}")
        for n, key in enumerate(keys)
    )


@dataclass(frozen=True)
class Call:
    """One request; `{post}`, `{alice}` and `{token}` in the URL are the world's ids."""

    method: str
    url: str
    data: dict[str, Any] | None = None
    anonymous: bool = False


def next_page(w: World, url: str = "/api/v1/") -> Call:
    return Call("get", w.alice_client.get(f"{url}?page_size=2").json()["next"])


def password_reset_confirm(w: World) -> Call:
    w.anon.post("/api/v1/dj-rest-auth/password/reset/", {"email": "alice@example.com"})
    link = mailed_link(RESET_LINK)
    data = {"uid": link.group("uid"), "token": link.group("token")}
    data |= {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    return Call("post", "/api/v1/dj-rest-auth/password/reset/confirm/", data, anonymous=True)


def carol_registers(w: World) -> None:
    """carol registers through the API; her address is not confirmed yet."""
    data = {"username": "carol", "email": "carol@example.com"}
    w.anon.post(REGISTER, data | {"password1": PASSWORD, "password2": PASSWORD}, format="json")


def verify_email(w: World) -> Call:
    carol_registers(w)
    key = mailed_link(CONFIRM_LINK).group("key")
    return Call("post", f"{REGISTER}verify-email/", {"key": key}, anonymous=True)


def resend_email(w: World) -> Call:
    carol_registers(w)
    return Call("post", f"{REGISTER}resend-email/", {"email": "carol@example.com"}, anonymous=True)


AUTH = "/api/v1/dj-rest-auth/"
REGISTER = f"{AUTH}registration/"
SIGNUP = {"username": "dave", "email": "dave@example.com", "password1": PASSWORD}
CHANGE = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}

# Endpoint: (the request, or how to prepare it; the most queries it may take at any size).
# Deleting tokens reads their rows first (their cached entries go with them: a post_delete
# receiver), and the password hash, kept out of the token lookup, is read where it is needed.
# Each event the activity feed keeps is one INSERT in the flow's transaction, and a revocation
# reads the ids of the credentials it ends first (the feed names them).
CASES: dict[str, tuple[Call | Callable[[World], Call], int]] = {
    "post create": (Call("post", "/api/v1/", {"title": "New", "body": "Text"}), 2),
    "post update": (Call("patch", "/api/v1/{post}/", {"title": "Edited"}), 3),
    "post delete": (Call("delete", "/api/v1/{post}/"), 3),
    "users list": (Call("get", "/api/v1/users/"), 2),
    "users list, next page": (lambda w: next_page(w, "/api/v1/users/"), 2),
    "user detail": (Call("get", "/api/v1/users/{alice}/"), 2),
    "own details": (Call("get", f"{AUTH}user/"), 1),
    "tokens list": (Call("get", f"{AUTH}tokens/"), 6),
    "activity feed": (Call("get", f"{AUTH}activity/"), 2),
    "activity feed, next page": (lambda w: next_page(w, f"{AUTH}activity/"), 2),
    "token revoke": (Call("delete", f"{AUTH}tokens/token-{{token}}/"), 5),
    "logout": (Call("post", f"{AUTH}logout/"), 5),
    "logout everywhere": (Call("post", f"{AUTH}logout-all/"), 13),
    # A sign-in saves last_login (Django's update_last_login, in User.save()'s savepoint):
    # that kills the reset links mailed before it. Before that it locks the user row and cancels
    # a pending deletion (2 queries: blogapi.accounts.services.deletion).
    "login": (Call("post", f"{AUTH}login/", {"username": "alice", "password": PASSWORD}, True), 19),
    "registration": (Call("post", REGISTER, SIGNUP | {"password2": PASSWORD}, True), 28),
    "password change": (Call("post", f"{AUTH}password/change/", CHANGE), 25),
    "password reset": (
        Call("post", f"{AUTH}password/reset/", {"email": "alice@example.com"}, True),
        5,
    ),
    "password reset confirm": (password_reset_confirm, 24),
    "verify e-mail": (verify_email, 11),
    "resend e-mail": (resend_email, 6),
}


@pytest.mark.parametrize(("case", "bound"), CASES.values(), ids=CASES.keys())
def test_queries_per_request_do_not_grow_with_the_data(
    world: World,
    case: Call | Callable[[World], Call],
    bound: int,
    django_assert_max_num_queries: Any,
) -> None:
    call = case if isinstance(case, Call) else case(world)
    client = world.anon if call.anonymous else world.alice_client
    url = call.url.format(post=world.post.pk, alice=world.alice.pk, token=world.token.pk)

    with django_assert_max_num_queries(bound):
        response = getattr(client, call.method)(url, call.data, format="json")

    assert response.status_code in (200, 201, 204), response.content
    if call.url == f"{AUTH}tokens/":  # the sessions were all listed, not silently dropped
        assert sum(c["kind"] == "session" for c in response.json()) == world.size


@pytest.mark.parametrize("path", ["/api/v1/", "detail"])
def test_an_authenticated_read_writes_nothing(
    alice_client: APIClient, alice: User, path: str
) -> None:
    post = Post.objects.create(author=alice, title="Hello", body="Text")
    url = f"/api/v1/{post.pk}/" if path == "detail" else path

    # Within the touch interval of the login that issued the token: reads must be SELECTs only.
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert alice_client.get(url).status_code == 200

    statements = [q["sql"].lstrip().split(None, 1)[0].upper() for q in queries.captured_queries]
    assert statements
    assert set(statements) == {"SELECT"}, queries.captured_queries


# --- The post reads: exact counts ---------------------------------------------------------------

# A well-formed key (prefix + 43 base64url characters) that was never issued.
UNKNOWN_KEY = "blogapi_" + "A" * 43
TOKEN_TABLE = DeviceToken._meta.db_table
POST_TABLE = Post._meta.db_table
RATE_LIMIT_TABLE = RateLimitBucket._meta.db_table


@pytest.fixture(params=[1, 50], ids=lambda count: f"{count}-posts")
def post_count(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def with_page_size(url: str, page_size: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | {"page_size": str(page_size)}
    return f"{parts.path}?{urlencode(query)}"


@pytest.fixture
def read_urls(alice_client: APIClient, alice: User, post_count: int) -> dict[str, str]:
    """The three post reads over `post_count` posts; the cursor page holds all of them.

    The cursor comes from a first page taken while one newer post existed, deleted since.
    """
    Post.objects.bulk_create(
        Post(author=alice, title=f"Post {n}", body="Body") for n in range(post_count)
    )
    newer = alice_client.post("/api/v1/", {"title": "Newer", "body": "Body"}, format="json")
    cursor_page = alice_client.get("/api/v1/?page_size=1").json()["next"]
    assert alice_client.delete(f"/api/v1/{newer.json()['id']}/").status_code == 204
    return {
        "list": "/api/v1/?page_size=100",
        "cursor page": with_page_size(cursor_page, 100),
        "detail": f"/api/v1/{Post.objects.latest('created_at').pk}/",
    }


@pytest.mark.parametrize("read", ["list", "cursor page", "detail"])
def test_a_post_read_runs_the_token_lookup_then_one_posts_query(
    alice_client: APIClient, read_urls: dict[str, str], post_count: int, read: str
) -> None:
    alice_client.get(read_urls[read])  # a token read once is in the shared cache, if there is one
    if read_cache.cache_in_use():  # and so is the answer, until a post write
        with CaptureQueriesContext(connection) as cached:
            assert alice_client.get(read_urls[read]).status_code == 200
        assert cached.captured_queries == []
        read_cache.posts_changed()  # as any post write does
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(read_urls[read])

    assert response.status_code == 200, response.content
    if read != "detail":
        assert len(response.json()["results"]) == post_count
    sql = [q["sql"] for q in queries.captured_queries]
    if (
        credential_cache.cache_is_shared()
    ):  # the token came from Redis: the posts are the only query
        assert len(sql) == 1, sql
        (posts_read,) = sql
    else:
        assert len(sql) == 2, sql
        token_lookup, posts_read = sql
        assert TOKEN_TABLE in token_lookup
        assert POST_TABLE not in token_lookup
    assert POST_TABLE in posts_read


@pytest.mark.parametrize("read", ["list", "cursor page", "detail"])
def test_an_unknown_key_runs_only_its_lookup_and_reads_no_post(
    read_urls: dict[str, str], read: str
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {UNKNOWN_KEY}")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(read_urls[read])

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    sql = [q["sql"] for q in queries.captured_queries]
    # The failure is charged to the caller's rate limit: in Redis, or without it one upsert.
    assert len(sql) == (1 if settings.REDIS_URL else 2), sql
    lookup, *counter = sql
    assert lookup.lstrip().upper().startswith("SELECT")
    assert TOKEN_TABLE in lookup
    assert all(RATE_LIMIT_TABLE in statement for statement in counter)
    assert not [statement for statement in sql if POST_TABLE in statement]
