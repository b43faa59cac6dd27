"""Account deletion: the request, its grace, its cancellation by any sign-in, and the erasure."""

import base64
import io
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.views import APIView

from blogapi.accounts.authentication import BasicCredentialsAuthentication
from blogapi.accounts.models import AccountDeletion, DeviceToken, User
from blogapi.accounts.services.deletion import LAST_SUPERUSER
from blogapi.accounts.tests.mfa import LOGIN, Clock, Enrolled, password_step, totp
from blogapi.accounts.tests.test_jwt import bearer, browser_login, csrf, jwt_login
from blogapi.posts.models import Post
from conftest import PASSWORD, login, mailed_link, settings_in_subprocess, token_client

API = "/api/v1/dj-rest-auth/"
DELETE = API + "delete/"
ME = API + "user/"
RESET = API + "password/reset/"
GRACE = timedelta(days=7)


@pytest.fixture(autouse=True)
def _basic_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """What AUTH_BASIC_ENABLED=true configures (test_authentication checks the setting)."""
    monkeypatch.setattr(
        APIView,
        "authentication_classes",
        [*APIView.authentication_classes, BasicCredentialsAuthentication],
    )


def posts_of(user: User, count: int) -> None:
    Post.objects.bulk_create(
        Post(author=user, title=f"Post {n}", body=f"Body {n}") for n in range(count)
    )


def delete_account(client: APIClient, **body: Any) -> Any:
    return client.post(DELETE, {"password": PASSWORD, **body}, format="json")


def purge() -> None:
    call_command("purge_deleted_accounts", stdout=io.StringIO())


def requested(clock: Clock, user: User) -> None:
    """alice asks for her account's deletion, and the clock moves past her sign-ins' effects."""
    response = delete_account(token_client(login(APIClient(), user.username)))
    assert response.status_code == 202, response.content
    mail.outbox.clear()
    clock.shift(timedelta(minutes=1))


# --- The request ---------------------------------------------------------------------------


def test_a_deletion_ends_every_credential_schedules_the_erasure_and_mails_a_notice(
    clock: Clock, alice: User, bob: User
) -> None:
    posts_of(alice, 3)
    phone, laptop = login(APIClient(), "alice"), login(APIClient(), "alice")
    browser = Client()
    browser.force_login(alice)
    bob_key = login(APIClient(), "bob")

    response = delete_account(token_client(phone))

    assert response.status_code == 202, response.content
    body = response.json()
    erase_at = clock.now + GRACE
    assert body["erase_at"] == erase_at.isoformat().replace("+00:00", "Z")
    assert body["posts_deleted_with_account"] is True
    assert "posts" in body["detail"]
    assert erase_at.strftime("%Y-%m-%d %H:%M") in body["detail"]
    for key in (phone, laptop):
        assert token_client(key).get(ME).status_code == 401
    assert browser.get(ME).status_code == 401
    assert token_client(bob_key).get(ME).status_code == 200
    deletion = AccountDeletion.objects.get(user=alice)
    assert (deletion.requested_at, deletion.erase_at) == (clock.now, erase_at)
    assert Post.objects.filter(author=alice).count() == 3  # nothing erased yet
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "will be deleted" in mail.outbox[0].subject
    assert erase_at.strftime("%Y-%m-%d %H:%M") in str(mail.outbox[0].body)
    assert "sign in again" in str(mail.outbox[0].body)


def test_the_grace_is_auth_deletion_grace(clock: Clock, alice: User, settings: Any) -> None:
    settings.AUTH_DELETION_GRACE = timedelta(hours=36)

    response = delete_account(token_client(login(APIClient(), "alice")))

    assert response.status_code == 202
    assert AccountDeletion.objects.get(user=alice).erase_at == clock.now + timedelta(hours=36)


def test_a_jwt_sign_in_can_ask_and_its_family_ends(jwt_mode: None, alice: User) -> None:
    access = jwt_login()["access"]

    response = delete_account(bearer(access))

    assert response.status_code == 202, response.content
    assert bearer(access).get(ME).status_code == 401
    assert AccountDeletion.objects.filter(user=alice).exists()


@pytest.mark.usefixtures("jwt_mode")
def test_a_jwt_cookie_browser_can_ask_and_its_cookies_are_cleared(
    alice: User, settings: Any
) -> None:
    settings.AUTH_JWT_COOKIES = True
    settings.SESSION_COOKIE_SECURE = True
    browser = browser_login()

    response = browser.post(DELETE, {"password": PASSWORD}, format="json", **csrf(browser))

    assert response.status_code == 202, response.content
    assert response.cookies["__Host-blogapi-access"].value == ""
    assert browser.get(ME).status_code == 401


def test_a_session_can_ask_with_its_csrf_token(alice: User) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    refused = browser.post(DELETE, {"password": PASSWORD}, format="json")
    assert refused.status_code == 403  # no CSRF token
    browser.get(API + "csrf/")
    token = browser.cookies["csrftoken"].value

    response = browser.post(DELETE, {"password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 202, response.content
    assert browser.get(ME).status_code == 401


def test_a_wrong_password_schedules_nothing_and_ends_nothing(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))

    response = delete_account(client, password="not her password at all")

    assert response.status_code == 400
    assert response.json() == {"password": ["Incorrect password."]}
    assert not AccountDeletion.objects.exists()
    assert client.get(ME).status_code == 200
    assert not mail.outbox


def test_wrong_passwords_are_limited_like_logins(alice: User, rates: Any) -> None:
    rates(login_failures="2/300")
    client = token_client(login(APIClient(), "alice"))

    statuses = [delete_account(client, password="wrong guess here").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    assert delete_account(client).status_code == 429  # the right one too, while locked
    assert not AccountDeletion.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"password": ""},
        {"password": None},
        {"password": 12345},
        {"password": ["a", "b"]},
        {"password": {"x": 1}},
        {"password": "x" * 10_000},
        {"password": "nul\x00byte"},
        {"password": PASSWORD, "code": "1" * 1000},
        {"password": PASSWORD, "code": ["123456"]},
    ],
)
def test_bad_input_answers_400_and_schedules_nothing(alice: User, body: dict[str, Any]) -> None:
    client = token_client(login(APIClient(), "alice"))

    response = client.post(DELETE, body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()
    assert not AccountDeletion.objects.exists()


def test_malformed_json_answers_400(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))

    response = client.post(DELETE, b'{"password": ', content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()


def test_anonymous_callers_are_refused(db: None) -> None:
    assert APIClient().post(DELETE, {"password": PASSWORD}, format="json").status_code == 401


def test_only_post_is_allowed(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    assert client.get(DELETE).status_code == 405
    assert client.delete(DELETE).status_code == 405


# --- A second factor ------------------------------------------------------------------------


def test_with_two_factor_sign_in_a_code_is_required(clock: Clock, enrolled: Enrolled) -> None:
    client = token_client(enrolled.key)

    response = delete_account(client)

    assert response.status_code == 400
    assert "code" in response.json()
    assert not AccountDeletion.objects.exists()
    assert client.get(ME).status_code == 200


def test_with_two_factor_sign_in_a_wrong_code_is_refused(clock: Clock, enrolled: Enrolled) -> None:
    response = delete_account(token_client(enrolled.key), code="000000")

    assert response.status_code == 400
    assert response.json() == {"code": ["Incorrect code."]}
    assert not AccountDeletion.objects.exists()


def test_with_two_factor_sign_in_a_wrong_password_spends_no_code(
    clock: Clock, enrolled: Enrolled
) -> None:
    code = totp(enrolled.secret, clock.now)
    client = token_client(enrolled.key)

    assert delete_account(client, password="wrong guess here", code=code).status_code == 400
    assert delete_account(client, code=code).status_code == 202


@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_with_two_factor_sign_in_a_right_code_schedules_the_deletion(
    clock: Clock, enrolled: Enrolled, kind: str
) -> None:
    code = totp(enrolled.secret, clock.now) if kind == "totp" else enrolled.recovery_codes[0]

    response = delete_account(token_client(enrolled.key), code=code)

    assert response.status_code == 202, response.content
    assert AccountDeletion.objects.filter(user=enrolled.user).exists()
    assert token_client(enrolled.key).get(ME).status_code == 401


# --- The last superuser ---------------------------------------------------------------------


@pytest.fixture
def root(user_factory: Callable[..., User]) -> User:
    return user_factory("root", is_staff=True, is_superuser=True)


def test_the_last_superuser_cannot_delete_itself(root: User) -> None:
    client = token_client(login(APIClient(), "root"))

    response = delete_account(client)

    assert response.status_code == 400
    assert response.json() == {"detail": LAST_SUPERUSER}
    assert not AccountDeletion.objects.exists()
    assert client.get(ME).status_code == 200


def test_a_superuser_can_when_another_remains(root: User, user_factory: Any) -> None:
    user_factory("other", is_staff=True, is_superuser=True)

    response = delete_account(token_client(login(APIClient(), "root")))

    assert response.status_code == 202


@pytest.mark.parametrize("other", ["inactive", "deletion_pending"])
def test_a_superuser_that_will_not_remain_does_not_count(
    root: User, user_factory: Callable[..., User], other: str
) -> None:
    second = user_factory("second", is_staff=True, is_superuser=True)
    if other == "inactive":
        second.is_active = False
        second.save()
    else:
        assert delete_account(token_client(login(APIClient(), "second"))).status_code == 202

    response = delete_account(token_client(login(APIClient(), "root")))

    assert response.status_code == 400
    assert response.json() == {"detail": LAST_SUPERUSER}


def test_staff_who_are_not_superusers_can_delete_themselves(
    root: User, user_factory: Callable[..., User]
) -> None:
    user_factory("editor", is_staff=True)

    assert delete_account(token_client(login(APIClient(), "editor"))).status_code == 202


# --- Signing in again cancels ---------------------------------------------------------------


def json_sign_in(user: User) -> None:
    login(APIClient(), user.username)


def jwt_sign_in(user: User) -> None:
    response = APIClient().post(
        LOGIN, {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert "access" in response.json()


def form_sign_in(user: User) -> None:
    """dj-rest-auth's login from an HTML form (the browsable API): a token and a session."""
    response = APIClient().post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content


def browsable_api_sign_in(user: User) -> None:
    response = Client().post("/api-auth/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def admin_sign_in(user: User) -> None:
    response = Client().post(
        "/admin/login/", {"username": user.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def basic_sign_in(user: User) -> None:
    credentials = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    assert APIClient().get(ME, HTTP_AUTHORIZATION=f"Basic {credentials}").status_code == 200


SIGN_INS = [
    pytest.param(json_sign_in, id="json-login"),
    pytest.param(form_sign_in, id="form-login"),
    pytest.param(browsable_api_sign_in, id="browsable-api-login"),
    pytest.param(admin_sign_in, id="admin-login"),
    pytest.param(basic_sign_in, id="basic-request"),
]


@pytest.fixture
def staff_alice(user_factory: Callable[..., User]) -> User:
    """alice, staff so that the admin's login accepts her too."""
    return user_factory("alice", is_staff=True)


@pytest.mark.parametrize("sign_in", SIGN_INS)
def test_a_sign_in_during_the_grace_cancels_the_deletion(
    clock: Clock, staff_alice: User, sign_in: Callable[[User], None], caplog: Any
) -> None:
    posts_of(staff_alice, 2)
    requested(clock, staff_alice)
    clock.shift(GRACE - timedelta(minutes=5))

    with caplog.at_level(logging.INFO, logger="blogapi.auth"):
        sign_in(staff_alice)

    assert not AccountDeletion.objects.exists()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "cancelled" in mail.outbox[0].subject
    assert "account.deletion_cancelled" in caplog.text
    clock.shift(GRACE)
    purge()
    assert User.objects.filter(pk=staff_alice.pk).exists()
    assert Post.objects.filter(author=staff_alice).count() == 2


def test_a_jwt_sign_in_cancels_the_deletion(clock: Clock, jwt_mode: None, alice: User) -> None:
    delete_account(bearer(jwt_login()["access"]))
    assert AccountDeletion.objects.exists()

    jwt_sign_in(alice)

    assert not AccountDeletion.objects.exists()


def test_with_two_factor_only_the_code_step_cancels(clock: Clock, enrolled: Enrolled) -> None:
    assert delete_account(
        token_client(enrolled.key), code=totp(enrolled.secret, clock.now)
    ).status_code == (202)
    clock.step()

    step = password_step(APIClient())
    assert AccountDeletion.objects.exists()  # a password alone signs nobody in
    response = APIClient().post(
        API + "mfa/verify/",
        {"ephemeral_token": step["ephemeral_token"], "code": totp(enrolled.secret, clock.now)},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert not AccountDeletion.objects.exists()


def test_a_sign_in_without_a_pending_deletion_mails_nothing(alice: User) -> None:
    login(APIClient(), "alice")

    assert not mail.outbox


def test_a_failed_sign_in_cancels_nothing(clock: Clock, alice: User) -> None:
    requested(clock, alice)

    response = APIClient().post(
        LOGIN, {"username": "alice", "password": "not the password"}, format="json"
    )

    assert response.status_code == 400
    assert AccountDeletion.objects.exists()


def test_a_pending_account_can_reset_its_password_then_sign_in_to_cancel(
    clock: Clock, alice: User
) -> None:
    requested(clock, alice)

    assert APIClient().post(RESET, {"email": "alice@example.com"}, format="json").status_code == 200
    link = mailed_link(r"/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/")
    new = "a brand new passphrase"
    confirmed = APIClient().post(
        RESET + "confirm/",
        {**link.groupdict(), "new_password1": new, "new_password2": new},
        format="json",
    )
    assert confirmed.status_code == 200, confirmed.content
    assert AccountDeletion.objects.exists()  # a reset signs nobody in

    login(APIClient(), "alice", new)

    assert not AccountDeletion.objects.exists()


# --- The erasure ----------------------------------------------------------------------------


def test_the_purge_erases_the_account_and_its_posts_once_the_grace_has_passed(
    clock: Clock, alice: User, bob: User, caplog: Any
) -> None:
    posts_of(alice, 5)
    posts_of(bob, 2)
    requested(clock, alice)

    clock.shift(GRACE - timedelta(minutes=2))
    purge()
    assert User.objects.filter(pk=alice.pk).exists()

    clock.shift(timedelta(minutes=2))
    with caplog.at_level(logging.INFO, logger="blogapi.auth"):
        purge()

    assert not User.objects.filter(pk=alice.pk).exists()
    assert not Post.objects.filter(author_id=alice.pk).exists()
    assert not EmailAddress.objects.filter(user_id=alice.pk).exists()
    assert not AccountDeletion.objects.exists()
    assert Post.objects.filter(author=bob).count() == 2
    assert f"account.erased user_id={alice.pk}" in caplog.text


def test_the_purge_is_idempotent_and_reports_what_it_erased(clock: Clock, alice: User) -> None:
    requested(clock, alice)
    clock.shift(GRACE)
    out: list[str] = []

    for _ in range(2):
        buffer = io.StringIO()
        call_command("purge_deleted_accounts", stdout=buffer)
        out.append(buffer.getvalue().strip())

    assert out == ["Erased 1 account(s).", "Erased 0 account(s)."]


def test_an_erased_account_cannot_sign_in(clock: Clock, alice: User) -> None:
    requested(clock, alice)
    clock.shift(GRACE)
    purge()

    response = APIClient().post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert not DeviceToken.objects.exists()


def test_an_account_erased_between_its_password_check_and_its_sign_in_is_refused_cleanly(
    clock: Clock, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The losing side of a sign-in racing the purge, made deterministic: the purge runs right
    after the password was checked."""
    from blogapi.accounts import backends

    requested(clock, alice)
    clock.shift(GRACE)
    original = backends.RateLimitedAuthenticationBackend.authenticate

    def authenticate_then_purge(self: Any, request: Any, **credentials: Any) -> Any:
        user = original(self, request, **credentials)
        purge()
        return user

    monkeypatch.setattr(
        backends.RateLimitedAuthenticationBackend, "authenticate", authenticate_then_purge
    )

    response = APIClient().post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code in (401, 403), response.content
    assert response.json()["detail"] == "This account has been deleted."
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not DeviceToken.objects.exists()


def test_the_grace_setting_must_be_a_positive_duration() -> None:
    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "AUTH_DELETION_GRACE": "-5"}, "settings.AUTH_DELETION_GRACE"
    )
    assert result.returncode != 0
    assert "AUTH_DELETION_GRACE must be a positive duration" in result.stderr

    result = settings_in_subprocess(
        {"DJANGO_DEBUG": "true", "AUTH_DELETION_GRACE": "P2D"}, "settings.AUTH_DELETION_GRACE"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "datetime.timedelta(days=2)"


def test_no_secret_reaches_the_logs_through_export_deletion_and_erasure(
    clock: Clock, alice: User, caplog: Any
) -> None:
    key = login(APIClient(), "alice")
    client = token_client(key)
    with caplog.at_level(logging.DEBUG):
        client.post(API + "reauthenticate/", {"password": PASSWORD}, format="json")
        assert b"".join(client.get(API + "export/")).startswith(b"{")
        assert delete_account(client).status_code == 202
        notice = str(mail.outbox[-1].body)
        key_again = login(APIClient(), "alice")  # cancels
        assert delete_account(token_client(key_again)).status_code == 202
        clock.shift(GRACE)
        purge()

    written = "\n".join(
        f"{record.getMessage()} {sorted(map(str, record.__dict__.values()))}"
        for record in caplog.records
    )
    secrets = [PASSWORD, key, key_again, "alice@example.com"]
    secrets += [line for line in notice.splitlines() if len(line) > 15]
    assert [secret for secret in secrets if secret in written] == []
    for event in ("account.exported", "account.deletion_requested", "account.deletion_cancelled"):
        assert event in written
    assert f"account.erased user_id={alice.pk}" in written


def test_the_purge_deletes_posts_in_bulk_without_loading_them(clock: Clock, alice: User) -> None:
    from django.db.models.signals import post_delete

    posts_of(alice, 30)
    requested(clock, alice)
    clock.shift(GRACE)
    loaded: list[Any] = []

    def count(sender: Any, instance: Any, **kwargs: Any) -> None:
        loaded.append(instance)

    post_delete.connect(count, sender=Post)
    try:
        purge()
    finally:
        post_delete.disconnect(count, sender=Post)

    assert not Post.objects.filter(author_id=alice.pk).exists()
    assert loaded == []


def test_staff_see_pending_deletions_in_the_admin_read_only(
    clock: Clock, alice: User, root: User
) -> None:
    requested(clock, alice)
    admin_browser = Client()
    admin_browser.force_login(root)
    deletion = AccountDeletion.objects.get(user=alice)

    listing = admin_browser.get("/admin/accounts/accountdeletion/")
    change = admin_browser.post(
        f"/admin/accounts/accountdeletion/{alice.pk}/delete/", {"post": "yes"}
    )

    assert listing.status_code == 200
    assert b"alice" in listing.content
    assert change.status_code == 403
    assert AccountDeletion.objects.get(user=alice) == deletion
    assert admin_browser.get("/admin/accounts/accountdeletion/add/").status_code == 403
