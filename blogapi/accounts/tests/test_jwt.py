"""JWT sign-in (AUTH_JWT=true): the contract, rotation, reuse detection, revocation, signing."""

import base64
import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts.access_tokens import access_token_issue
from blogapi.accounts.models import RefreshFamily, SpentRefreshToken, User, token_digest
from blogapi.accounts.services.credentials import device_token_create
from blogapi.accounts.services.password import password_reset_confirm
from blogapi.accounts.tests.test_races import all_at_once, post_json
from conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("jwt_mode")

AUTH = "/api/v1/dj-rest-auth/"
LOGIN, REFRESH, VERIFY = f"{AUTH}login/", f"{AUTH}token/refresh/", f"{AUTH}token/verify/"
ME, TOKENS, LOGOUT, LOGOUT_ALL = (
    f"{AUTH}user/",
    f"{AUTH}tokens/",
    f"{AUTH}logout/",
    f"{AUTH}logout-all/",
)
NEW_PASSWORD = "a brand new passphrase"


def jwt_login(username: str = "alice", **extra: str) -> dict[str, Any]:
    response = APIClient().post(
        LOGIN, {"username": username, "password": PASSWORD, **extra}, format="json"
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def refresh(token: Any) -> Any:
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def status_with(access: str) -> int:
    return int(bearer(access).get(ME).status_code)


def claims_of(access: str) -> dict[str, Any]:
    return dict(pyjwt.decode(access, options={"verify_signature": False}))


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- Contract ------------------------------------------------------------------------------------


def test_login_answers_dj_rest_auth_s_jwt_shape(alice: User) -> None:
    answer = jwt_login(device="Work laptop")

    assert set(answer) == {"access", "refresh", "access_expiration", "refresh_expiration", "user"}
    assert answer["user"] == bearer(answer["access"]).get(ME).json()
    assert answer["refresh"].startswith("blogapi_rt_")
    claims = claims_of(answer["access"])
    assert claims["sub"] == str(alice.pk)
    assert claims["exp"] - claims["iat"] == 300  # AUTH_JWT_ACCESS_TTL, 5 minutes
    assert pyjwt.get_unverified_header(answer["access"])["alg"] == "HS256"
    assert "kid" in pyjwt.get_unverified_header(answer["access"])
    access_expiration = datetime.fromisoformat(answer["access_expiration"])
    refresh_expiration = datetime.fromisoformat(answer["refresh_expiration"])
    assert access_expiration.timestamp() == claims["exp"]
    assert abs(refresh_expiration - timezone.now() - django_settings.AUTH_TOKEN_IDLE_TTL) < (
        timedelta(seconds=5)
    )
    family = RefreshFamily.objects.get(user=alice)
    assert family.label == "Work laptop"


def test_the_refresh_secret_is_stored_only_as_its_digest(alice: User) -> None:
    answer = jwt_login()
    rotated = refresh(answer["refresh"]).json()

    family = RefreshFamily.objects.get(user=alice)
    assert family.digest == hashlib.sha256(rotated["refresh"].encode()).hexdigest()
    assert SpentRefreshToken.objects.get().digest == token_digest(answer["refresh"])
    stored = json.dumps(
        [list(RefreshFamily.objects.values_list()), list(SpentRefreshToken.objects.values_list())],
        default=str,
    )
    assert answer["refresh"] not in stored
    assert rotated["refresh"] not in stored


@pytest.mark.parametrize("path", ["/api/v1/", ME, TOKENS, "/api/v1/users/"])
def test_a_bearer_access_token_authenticates_every_endpoint(alice: User, path: str) -> None:
    assert bearer(jwt_login()["access"]).get(path).status_code == 200


def test_without_credentials_the_answer_names_the_bearer_scheme(db: None) -> None:
    response = APIClient().get("/api/v1/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_opaque_keys_keep_working_in_jwt_mode(alice: User) -> None:
    key = device_token_create(user=alice, request=RequestFactory().get("/")).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get(ME).status_code == 200


def test_registration_that_signs_in_answers_the_jwt_shape(db: None) -> None:
    body = {
        "username": "newbie",
        "email": "newbie@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    response = APIClient().post(f"{AUTH}registration/", body, format="json")

    assert response.status_code == 201, response.content
    answer = response.json()
    assert set(answer) == {"access", "refresh", "access_expiration", "refresh_expiration", "user"}
    assert answer["user"]["username"] == "newbie"
    assert status_with(answer["access"]) == 200


def test_the_family_is_listed_with_the_other_credentials(alice: User) -> None:
    answer = jwt_login(device="Phone")
    listed = bearer(answer["access"]).get(TOKENS).json()

    (family,) = listed
    assert family["kind"] == "jwt"
    assert family["label"] == "Phone"
    assert family["current"] is True
    assert family["id"] == f"jwt-{RefreshFamily.objects.get().pk}"
    assert answer["refresh"] not in json.dumps(listed)


# --- Rotation and reuse -------------------------------------------------------------------------


def test_a_refresh_rotates_and_answers_the_same_shape_minus_user(alice: User) -> None:
    first = jwt_login()

    response = refresh(first["refresh"])

    assert response.status_code == 200, response.content
    second = response.json()
    assert set(second) == {"access", "refresh", "access_expiration", "refresh_expiration"}
    assert second["refresh"] != first["refresh"]
    assert status_with(second["access"]) == 200
    assert refresh(second["refresh"]).status_code == 200


def test_a_spent_token_within_the_grace_is_refused_but_the_family_survives(alice: User) -> None:
    first = jwt_login()
    second = refresh(first["refresh"]).json()

    again = refresh(first["refresh"])

    assert again.status_code == 401
    assert again.json()["detail"] == "Token is invalid or expired."
    assert status_with(second["access"]) == 200
    assert refresh(second["refresh"]).status_code == 200
    assert mail.outbox == []


def test_reuse_after_the_grace_revokes_the_whole_family_and_tells_the_owner(
    alice: User, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.AUTH_JWT_REUSE_GRACE = timedelta(0)
    other = jwt_login()  # another device: untouched
    first = jwt_login()
    second = refresh(first["refresh"]).json()
    third = refresh(second["refresh"]).json()

    with caplog.at_level(logging.INFO, logger="blogapi.auth"):
        reused = refresh(first["refresh"])

    assert reused.status_code == 401
    assert status_with(third["access"]) == 401  # access tokens of the family, at once
    assert status_with(second["access"]) == 401
    assert refresh(third["refresh"]).status_code == 401
    assert status_with(other["access"]) == 200
    assert any("credential.reuse_detected" in r.getMessage() for r in caplog.records)
    (notice,) = mail.outbox
    assert notice.to == ["alice@example.com"]
    assert "ended" in str(notice.subject)
    assert first["refresh"] not in notice.body
    assert third["refresh"] not in notice.body


def test_an_unknown_refresh_token_is_refused_and_revokes_nothing(alice: User) -> None:
    answer = jwt_login()

    assert refresh("blogapi_rt_" + "A" * 43).status_code == 401
    assert status_with(answer["access"]) == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"refresh": ""}, 400),
        ({"refresh": 12}, 401),
        ({"refresh": ["x"]}, 400),
        ({"refresh": "x" * 5000}, 400),
        ({"refresh": "blogapi_rt_\x00"}, 400),
        ({"refresh": "not-a-token"}, 401),
    ],
)
def test_refresh_input_errors_are_4xx(db: None, body: dict[str, Any], status: int) -> None:
    response = APIClient().post(REFRESH, body, format="json")

    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")


def test_failed_refreshes_are_rate_limited_per_ip(db: None, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "token_failures_ip": "3/60"}

    statuses = [refresh(f"blogapi_rt_wrong{n}").status_code for n in range(4)]

    assert statuses == [401, 401, 401, 429]


def test_an_idle_family_expires(alice: User, settings: Any) -> None:
    answer = jwt_login()
    RefreshFamily.objects.update(
        last_used_at=timezone.now() - django_settings.AUTH_TOKEN_IDLE_TTL - timedelta(seconds=1)
    )

    assert refresh(answer["refresh"]).status_code == 401
    assert status_with(answer["access"]) == 401


def test_a_family_lives_at_most_the_token_ttl(alice: User) -> None:
    answer = jwt_login()
    RefreshFamily.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert refresh(answer["refresh"]).status_code == 401
    assert status_with(answer["access"]) == 401


@pytest.mark.django_db(transaction=True)
def test_of_simultaneous_refreshes_with_one_token_exactly_one_wins(
    alice: User, live_server: Any, settings: Any
) -> None:
    settings.RATE_LIMITS = {scope: "1000/60" for scope in django_settings.RATE_LIMITS}
    token = jwt_login()["refresh"]
    url = f"{live_server.url}{REFRESH}"

    results = all_at_once([lambda: post_json(url, {"refresh": token}) for _ in range(8)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * 7, results
    (winner,) = [body for status, body in results if status == 200]
    assert refresh(winner["refresh"]).status_code == 200  # the family survived the race
    assert RefreshFamily.objects.count() == 1


# --- Revocation at the next request -------------------------------------------------------------


def revoke_by_delete(victim: dict[str, Any]) -> None:
    other = jwt_login()
    family = RefreshFamily.objects.get(pk=claims_of(victim["access"])["fam"])
    assert bearer(other["access"]).delete(f"{TOKENS}jwt-{family.pk}/").status_code == 204


def change_password(user: User) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


def deactivate(user: User) -> None:
    user.is_active = False
    user.save()


REVOCATIONS = {
    "logout": lambda victim, user: bearer(victim["access"]).post(LOGOUT),
    "delete one": lambda victim, user: revoke_by_delete(victim),
    "logout-all": lambda victim, user: bearer(jwt_login()["access"]).post(LOGOUT_ALL),
    "password set": lambda victim, user: change_password(user),
    "deactivation": lambda victim, user: deactivate(user),
    "user deleted": lambda victim, user: user.delete(),
    "family deleted": lambda victim, user: RefreshFamily.objects.filter(user=user).delete(),
}


@pytest.mark.parametrize("revoke", list(REVOCATIONS))
def test_every_revocation_refuses_the_family_s_tokens_at_the_next_request(
    alice: User, revoke: str
) -> None:
    victim = jwt_login()
    assert status_with(victim["access"]) == 200  # looked up once (cached with Redis)

    REVOCATIONS[revoke](victim, alice)

    assert status_with(victim["access"]) == 401
    assert refresh(victim["refresh"]).status_code == 401
    assert APIClient().post(VERIFY, {"token": victim["access"]}).status_code == 401


def test_a_password_change_through_the_api_keeps_the_caller_s_family_only(alice: User) -> None:
    caller, other = jwt_login(), jwt_login()

    response = bearer(caller["access"]).post(
        f"{AUTH}password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert status_with(caller["access"]) == 200
    assert refresh(caller["refresh"]).status_code == 200
    assert status_with(other["access"]) == 401
    assert refresh(other["refresh"]).status_code == 401


def test_a_password_reset_ends_every_family(alice: User) -> None:
    answer = jwt_login()
    alice.refresh_from_db()  # the login's state, which the reset token embeds

    password_reset_confirm(
        request=RequestFactory().post("/"),
        uid=user_pk_to_url_str(alice),
        token=default_token_generator.make_token(alice),
        new_password1=NEW_PASSWORD,
        new_password2=NEW_PASSWORD,
    )

    assert status_with(answer["access"]) == 401
    assert refresh(answer["refresh"]).status_code == 401


# --- Signing ------------------------------------------------------------------------------------


def test_verify_answers_200_for_a_live_access_token_else_401(alice: User) -> None:
    answer = jwt_login()

    assert APIClient().post(VERIFY, {"token": answer["access"]}, format="json").status_code == 200
    assert APIClient().post(VERIFY, {"token": "nonsense"}, format="json").status_code == 401
    assert APIClient().post(VERIFY, {}, format="json").status_code == 400


def forged(access: str, *, key: str | None = None, **changes: Any) -> str:
    claims = {**claims_of(access), **changes.pop("claims", {})}
    header = {**pyjwt.get_unverified_header(access), **changes.pop("header", {})}
    header.pop("alg")  # PyJWT would sign with the header's algorithm instead
    algorithm = changes.pop("algorithm", "HS256")
    return pyjwt.encode(
        claims, key or django_settings.AUTH_JWT_SIGNING_KEY, algorithm=algorithm, headers=header
    )


def tampered(access: str) -> str:
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(int(claims["sub"]) + 1)
    return f"{header}.{b64(claims)}.{signature}"


def unsigned(access: str) -> str:
    header = {**pyjwt.get_unverified_header(access), "alg": "none"}
    return f"{b64(header)}.{b64(claims_of(access))}."


BAD_TOKENS = {
    "tampered payload": tampered,
    "alg none": unsigned,
    "HS512": lambda access: forged(access, algorithm="HS512"),
    "another key, our kid": lambda access: forged(access, key="k" * 40),
    "unknown kid": lambda access: forged(access, header={"kid": "0" * 16}),
    "kid not a string": lambda access: ".".join(
        [b64({"alg": "HS256", "kid": ["x"]}), *access.split(".")[1:]]
    ),
    "expired": lambda access: forged(access, claims={"exp": int(timezone.now().timestamp()) - 1}),
    "wrong audience": lambda access: forged(access, claims={"aud": "https://elsewhere/"}),
    "wrong issuer": lambda access: forged(access, claims={"iss": "https://elsewhere"}),
    "no family": lambda access: forged(access, claims={"fam": None}),
    "family too large": lambda access: forged(access, claims={"fam": 2**70}),
    "another user's subject": lambda access: forged(access, claims={"sub": "999999"}),
    "not a JWT": lambda access: "garbage",
    "NUL": lambda access: access + "\x00",
}


@pytest.mark.parametrize("bad", list(BAD_TOKENS))
def test_a_bad_access_token_is_refused(alice: User, bad: str) -> None:
    access = jwt_login()["access"]
    token = BAD_TOKENS[bad](access)

    response = bearer(token).get(ME)

    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert APIClient().post(VERIFY, {"token": token}, format="json").status_code in (400, 401)


def test_tokens_of_a_previous_key_work_until_it_is_dropped(alice: User, settings: Any) -> None:
    old_key, new_key = "o" * 40, "n" * 40
    settings.AUTH_JWT_SIGNING_KEY = old_key
    access = jwt_login()["access"]

    settings.AUTH_JWT_SIGNING_KEY, settings.AUTH_JWT_PREVIOUS_SIGNING_KEYS = new_key, [old_key]
    assert status_with(access) == 200
    assert pyjwt.get_unverified_header(jwt_login()["access"]) != pyjwt.get_unverified_header(access)

    settings.AUTH_JWT_PREVIOUS_SIGNING_KEYS = []
    assert status_with(access) == 401


def test_an_access_token_issued_in_the_past_expires_after_its_lifetime(alice: User) -> None:
    answer = jwt_login()
    family = RefreshFamily.objects.get()
    old, _ = access_token_issue(
        user_id=alice.pk, family_id=family.pk, now=timezone.now() - timedelta(minutes=6)
    )

    assert status_with(old) == 401
    assert status_with(answer["access"]) == 200


# --- Cookies for browsers -----------------------------------------------------------------------


@pytest.fixture
def cookie_mode(settings: Any) -> None:
    settings.AUTH_JWT_COOKIES = True
    settings.SESSION_COOKIE_SECURE = True


def browser_login(username: str = "alice") -> APIClient:
    """A browser (CSRF enforced) signed in by the JWT cookie flow."""
    browser = APIClient(enforce_csrf_checks=True)
    response = browser.post(LOGIN, {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert "refresh" not in response.json()
    return browser


def csrf(browser: APIClient) -> dict[str, Any]:
    return {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}


@pytest.mark.usefixtures("cookie_mode")
def test_cookie_login_sets_httponly_secure_lax_cookies_and_keeps_refresh_out_of_the_body(
    alice: User,
) -> None:
    response = APIClient().post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    body = response.json()
    assert set(body) == {"access", "access_expiration", "refresh_expiration", "user"}
    access = response.cookies["__Host-blogapi-access"]
    refresh_cookie = response.cookies["__Secure-blogapi-refresh"]
    for cookie in (access, refresh_cookie):
        assert cookie["httponly"] is True
        assert cookie["secure"] is True
        assert cookie["samesite"] == "Lax"
    assert access["path"] == "/"
    assert refresh_cookie["path"] == REFRESH
    assert refresh_cookie.value.startswith("blogapi_rt_")
    assert "csrftoken" in response.cookies


@pytest.mark.usefixtures("cookie_mode")
def test_without_secure_cookies_the_names_carry_no_prefix(alice: User, settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = False

    response = APIClient().post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.cookies["blogapi-access"]["secure"] == ""
    assert "blogapi-refresh" in response.cookies


@pytest.mark.usefixtures("cookie_mode")
def test_the_access_cookie_authenticates_reads_and_csrf_guards_writes(alice: User) -> None:
    browser = browser_login()

    assert browser.get(ME).status_code == 200
    refused = browser.post("/api/v1/", {"title": "T", "body": "B"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    allowed = browser.post("/api/v1/", {"title": "T", "body": "B"}, format="json", **csrf(browser))
    assert allowed.status_code == 201, allowed.content


@pytest.mark.usefixtures("cookie_mode")
def test_refresh_by_cookie_needs_the_csrf_header_and_rotates_the_cookies(alice: User) -> None:
    browser = browser_login()
    before = browser.cookies["__Secure-blogapi-refresh"].value

    assert browser.post(REFRESH, {}, format="json").status_code == 403
    response = browser.post(REFRESH, {}, format="json", **csrf(browser))

    assert response.status_code == 200, response.content
    assert "refresh" not in response.json()
    after = browser.cookies["__Secure-blogapi-refresh"].value
    assert after != before
    assert refresh(before).status_code == 401  # spent
    assert browser.get(ME).status_code == 200


@pytest.mark.usefixtures("cookie_mode")
def test_logout_ends_the_family_and_clears_both_cookies(alice: User) -> None:
    browser = browser_login()
    stolen = browser.cookies["__Host-blogapi-access"].value

    response = browser.post(LOGOUT, format="json", **csrf(browser))

    assert response.status_code == 200
    for name in ("__Host-blogapi-access", "__Secure-blogapi-refresh"):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["max-age"] == 0
    assert status_with(stolen) == 401
    assert RefreshFamily.objects.count() == 0


@pytest.mark.usefixtures("cookie_mode")
def test_a_bearer_header_wins_over_the_cookie(alice: User, bob: User) -> None:
    browser = browser_login("alice")
    bob_access = jwt_login("bob")["access"]
    browser.credentials(HTTP_AUTHORIZATION=f"Bearer {bob_access}")

    assert browser.get(ME).json()["username"] == "bob"


def test_expired_families_are_purged_by_the_daily_command(
    alice: User, capsys: pytest.CaptureFixture[str]
) -> None:
    jwt_login()
    kept = jwt_login()
    RefreshFamily.objects.exclude(pk=claims_of(kept["access"])["fam"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    call_command("purge_expired_tokens")

    assert "and 1 JWT sign-in(s)." in capsys.readouterr().out
    assert list(RefreshFamily.objects.values_list("pk", flat=True)) == [
        claims_of(kept["access"])["fam"]
    ]


def test_the_admin_lists_families_without_secrets(alice: User) -> None:
    answer = jwt_login()
    staff = User.objects.create_superuser("root", "root@example.com", "a long admin passphrase")
    browser = Client()
    browser.force_login(staff)

    listing = browser.get("/admin/accounts/refreshfamily/")
    user_page = browser.get(f"/admin/accounts/user/{alice.pk}/change/")

    assert listing.status_code == 200
    assert user_page.status_code == 200
    family = RefreshFamily.objects.get()
    for page in (listing, user_page):
        assert family.label in page.content.decode()
        assert family.digest not in page.content.decode()
        assert answer["refresh"] not in page.content.decode()


def test_a_jwt_sign_in_updates_last_login_so_earlier_reset_links_die(alice: User) -> None:
    alice.refresh_from_db()
    link_token = default_token_generator.make_token(alice)

    jwt_login()

    alice.refresh_from_db()
    assert alice.last_login is not None
    assert not default_token_generator.check_token(alice, link_token)
