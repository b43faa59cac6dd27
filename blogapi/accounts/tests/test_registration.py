"""Registration, e-mail confirmation (API and mailed page) and resend, through the HTTP API."""

from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, mailed_link, token_client

REGISTER = "/api/v1/dj-rest-auth/registration/"
VERIFY = "/api/v1/dj-rest-auth/registration/verify-email/"
RESEND = "/api/v1/dj-rest-auth/registration/resend-email/"
LOGIN = "/api/v1/dj-rest-auth/login/"
CONFIRM_LINK = r"(https?://\S+/registration/account-confirm-email/(?P<key>[^/\s]+)/)"


def register(client: APIClient, username: str = "carol", **overrides: Any) -> Any:
    data = {
        "username": username,
        "email": f"{username}@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }
    return client.post(REGISTER, data, format="json")


def is_verified(email: str) -> bool:
    return EmailAddress.objects.get(email=email).verified


def test_register_answers_201_with_a_working_token(api_client: APIClient, db: None) -> None:
    response = register(api_client)

    assert response.status_code == 201
    key = response.json()["key"]
    me = token_client(key).get("/api/v1/dj-rest-auth/user/")
    assert me.status_code == 200
    assert me.json()["username"] == "carol"


def test_register_sends_a_confirmation_email_with_a_link_to_a_real_page(
    api_client: APIClient, db: None
) -> None:
    register(api_client)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carol@example.com"]
    link = mailed_link(CONFIRM_LINK).group(1)
    page = api_client.get(link)
    assert page.status_code == 200
    assert b"Confirm your e-mail address" in page.content


def test_opening_the_link_does_not_confirm_but_posting_the_page_does(
    api_client: APIClient, db: None
) -> None:
    register(api_client)
    link = mailed_link(CONFIRM_LINK).group(1)

    api_client.get(link)
    api_client.head(link)
    assert not is_verified("carol@example.com")

    done = api_client.post(link)
    assert done.status_code == 200
    assert b"E-mail address confirmed" in done.content
    assert is_verified("carol@example.com")


def test_the_page_refuses_a_used_or_unknown_key(api_client: APIClient, db: None) -> None:
    register(api_client)
    link = mailed_link(CONFIRM_LINK).group(1)
    assert api_client.post(link).status_code == 200

    again = api_client.post(link)
    assert again.status_code == 400
    assert b"cannot be used" in again.content
    unknown = "/api/v1/dj-rest-auth/registration/account-confirm-email/nonsense/"
    assert api_client.post(unknown).status_code == 400
    assert api_client.get(unknown).status_code == 200


def test_verify_email_confirms_with_the_mailed_key_once(api_client: APIClient, db: None) -> None:
    register(api_client)
    key = mailed_link(CONFIRM_LINK).group("key")

    first = api_client.post(VERIFY, {"key": key}, format="json")
    assert first.status_code == 200
    assert first.json() == {"detail": "ok"}
    assert is_verified("carol@example.com")

    second = api_client.post(VERIFY, {"key": key}, format="json")
    assert second.status_code == 400
    assert "invalid" in second.json()["detail"]


@pytest.mark.parametrize(
    "payload", [{}, {"key": ""}, {"key": "bogus"}, {"key": ["x"]}, {"key": "a\x00b"}]
)
def test_verify_email_refuses_bad_keys_with_a_400(
    api_client: APIClient, db: None, payload: dict[str, Any]
) -> None:
    response = api_client.post(VERIFY, payload, format="json")

    assert response.status_code == 400
    assert response.json()


def test_mailed_link_points_at_the_frontend_when_configured(
    api_client: APIClient, db: None, settings: Any
) -> None:
    settings.FRONTEND_URL = "https://app.example.com"
    register(api_client)

    key = mailed_link(r"https://app\.example\.com/verify-email/(?P<key>\S+)").group("key")
    assert api_client.post(VERIFY, {"key": key}, format="json").status_code == 200


def test_resend_email_sends_a_new_working_link(api_client: APIClient, db: None) -> None:
    register(api_client)
    mail.outbox.clear()

    response = api_client.post(RESEND, {"email": "carol@example.com"}, format="json")

    assert response.status_code == 200
    assert len(mail.outbox) == 1
    key = mailed_link(CONFIRM_LINK).group("key")
    assert api_client.post(VERIFY, {"key": key}, format="json").status_code == 200


def test_resend_email_for_an_unknown_address_answers_the_same(
    api_client: APIClient, db: None
) -> None:
    response = api_client.post(RESEND, {"email": "nobody@example.com"}, format="json")

    assert response.status_code == 200
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password2": "something else entirely"}, "non_field_errors"),
        ({"email": "not-an-email"}, "email"),
        ({"username": ""}, "username"),
        ({"password1": "short", "password2": "short"}, "password1"),
        ({"password1": "123456789012", "password2": "123456789012"}, "password1"),
        ({"username": ["list"]}, "username"),
        ({"email": None}, "email"),
        ({"username": "nul\x00byte"}, "username"),
    ],
)
def test_invalid_registration_is_a_400_naming_the_field(
    api_client: APIClient, db: None, overrides: dict[str, Any], field: str
) -> None:
    response = register(api_client, **overrides)

    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.exists()


def test_register_with_missing_fields_is_a_400(api_client: APIClient, db: None) -> None:
    response = api_client.post(REGISTER, {}, format="json")

    assert response.status_code == 400
    assert {"username", "email", "password1", "password2"} <= set(response.json())


def test_register_with_malformed_json_is_a_400(api_client: APIClient, db: None) -> None:
    response = api_client.post(REGISTER, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_username_and_email_are_unique(api_client: APIClient, alice: User) -> None:
    taken_username = register(api_client, "alice", email="other@example.com")
    assert taken_username.status_code == 400
    assert "username" in taken_username.json()

    taken_email = register(api_client, "alicia", email="ALICE@example.com")
    assert taken_email.status_code == 400
    assert User.objects.count() == 1


def test_mandatory_verification_blocks_login_until_confirmed(
    api_client: APIClient, db: None, settings: Any
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"

    response = register(api_client)
    assert response.status_code == 201
    assert "key" not in response.json()
    refused = api_client.post(LOGIN, {"username": "carol", "password": PASSWORD}, format="json")
    assert refused.status_code == 400

    key = mailed_link(CONFIRM_LINK).group("key")
    assert APIClient().post(VERIFY, {"key": key}, format="json").status_code == 200
    allowed = APIClient().post(LOGIN, {"username": "carol", "password": PASSWORD}, format="json")
    assert allowed.status_code == 200
    assert allowed.json()["key"]


def test_json_registration_signs_no_session_in(api_client: APIClient, db: None) -> None:
    register(api_client)

    # allauth may keep an anonymous session for its own bookkeeping; none may carry a user.
    assert api_client.get("/api/v1/dj-rest-auth/user/").status_code == 401
    assert not UserSession.objects.exists()
    assert all(SESSION_KEY not in s.get_decoded() for s in Session.objects.all())


def test_form_registration_from_the_browsable_api_signs_the_browser_in(
    api_client: APIClient, db: None
) -> None:
    response = api_client.post(
        REGISTER,
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    assert response.status_code == 201
    assert len(mail.outbox) == 1
    assert api_client.get("/api/v1/dj-rest-auth/user/").json()["username"] == "carol"


def test_no_confirmation_mail_when_verification_is_off(
    api_client: APIClient, db: None, settings: Any
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"

    assert register(api_client).status_code == 201
    assert mail.outbox == []
