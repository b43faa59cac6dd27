"""Account export: one streamed JSON document of the account's data, never a secret."""

import json
import logging
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from fido2.utils import websafe_encode
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.accounts.schema import AccountExportSerializer
from blogapi.accounts.services import export
from blogapi.accounts.tests.mfa import Clock, Enrolled, reauthenticated
from blogapi.accounts.tests.test_jwt import bearer, jwt_login
from blogapi.accounts.tests.webauthn import SoftAuthenticator, register_passkey
from blogapi.posts.models import Post
from conftest import PASSWORD, login, token_client

EXPORT = "/api/v1/dj-rest-auth/export/"


def posts_of(user: User, count: int) -> list[Post]:
    return Post.objects.bulk_create(
        Post(author=user, title=f"Post {n}", body=f"Body {n} of {user.username}")
        for n in range(count)
    )


def exported(client: APIClient) -> tuple[Any, dict[str, Any]]:
    response = client.get(EXPORT)
    assert response.status_code == 200, response.content
    return response, json.loads(b"".join(response))


def test_the_export_needs_a_reauthentication(alice: User) -> None:
    response = token_client(login(APIClient(), "alice")).get(EXPORT)

    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"


def test_anonymous_callers_are_refused(db: None) -> None:
    assert APIClient().get(EXPORT).status_code == 401


def test_the_export_is_a_streamed_json_attachment(alice: User, caplog: Any) -> None:
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    with caplog.at_level(logging.INFO, logger="blogapi.auth"):
        response, document = exported(client)

    assert response.streaming
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert f"blogapi-account-{alice.pk}-" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    assert document["format"] == 1
    assert f"account.exported user_id={alice.pk}" in caplog.text


def test_the_document_holds_the_profile_addresses_credentials_and_own_posts(
    alice: User, bob: User
) -> None:
    mine = posts_of(alice, 3)
    posts_of(bob, 2)
    other_device = login(APIClient(), "alice")
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    _, document = exported(client)

    assert document["profile"]["id"] == alice.pk
    assert document["profile"]["username"] == "alice"
    assert document["profile"]["email"] == "alice@example.com"
    assert document["email_addresses"] == [
        {"email": "alice@example.com", "primary": True, "verified": True}
    ]
    assert [p["id"] for p in document["posts"]] == [p.pk for p in mine]
    assert document["posts"][0]["title"] == "Post 0"
    assert document["posts"][0]["body"] == "Body 0 of alice"
    assert set(document["posts"][0]) == {"id", "title", "body", "created_at", "updated_at"}
    credentials = document["credentials"]
    assert len(credentials) == 2
    assert sorted(c["current"] for c in credentials) == [False, True]
    assert {c["kind"] for c in credentials} == {"token"}
    assert other_device not in json.dumps(document)
    assert document["second_factors"] == []
    feed = client.get("/api/v1/dj-rest-auth/activity/?page_size=100").json()["results"]

    # The feed as GET activity/ shows it, oldest first; the export itself is its newest event.
    # (Export dates are to the millisecond, DjangoJSONEncoder's; the API's to the microsecond.)
    def same_to_the_ms(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [row | {"created_at": row["created_at"][:23]} for row in rows]

    exported_feed = document["activity"]
    assert same_to_the_ms(exported_feed) == same_to_the_ms(feed[::-1][: len(exported_feed)])
    assert [row["event"] for row in document["activity"]][-1] == "account.exported"
    assert {"login.succeeded", "credential.created"} <= {r["event"] for r in document["activity"]}


def test_the_document_has_the_documented_sections(alice: User) -> None:
    _, document = exported(reauthenticated(token_client(login(APIClient(), "alice"))))

    assert list(document) == [
        "format",
        "exported_at",
        "profile",
        "email_addresses",
        "credentials",
        "second_factors",
        "activity",
        "posts",
    ]
    assert set(document) == set(AccountExportSerializer.fields)


def test_second_factors_are_listed_by_type_and_dates_without_secrets(
    clock: Clock, enrolled: Enrolled
) -> None:
    _, document = exported(reauthenticated(token_client(enrolled.key)))

    factors = {f["type"]: f for f in document["second_factors"]}
    assert set(factors) == {"totp", "recovery_codes"}
    assert factors["recovery_codes"]["recovery_codes_left"] == 10
    assert set(factors["totp"]) == {"type", "created_at", "last_used_at"}
    text = json.dumps(document)
    assert enrolled.secret not in text
    for code in enrolled.recovery_codes:
        assert code not in text
    for factor in Authenticator.objects.filter(user=enrolled.user):
        for value in factor.data.values():
            assert json.dumps(value) not in text


def test_passkeys_are_listed_by_name_and_dates_without_key_material(alice: User) -> None:
    client = token_client(login(APIClient(), "alice"))
    authenticator = SoftAuthenticator()
    register_passkey(client, authenticator, name="Alice's phone")
    register_passkey(client, SoftAuthenticator(), passwordless=False, name="Yubikey")

    _, document = exported(reauthenticated(client))

    passkeys = [f for f in document["second_factors"] if f["type"] == "webauthn"]
    assert [(p["name"], p["passwordless"]) for p in passkeys] == [
        ("Alice's phone", True),
        ("Yubikey", False),
    ]
    assert set(passkeys[0]) == {"type", "created_at", "last_used_at", "name", "passwordless"}
    text = json.dumps(document)
    assert websafe_encode(authenticator.credential_id) not in text
    for passkey in Authenticator.objects.filter(user=alice, type="webauthn"):
        for part in passkey.data["credential"]["response"].values():
            assert part not in text
    factor_schema: Any = AccountExportSerializer.fields["second_factors"]
    schema_fields = set(factor_schema.child.fields)
    assert set(passkeys[0]) <= schema_fields


def test_no_secret_of_the_account_is_in_the_document(alice: User) -> None:
    key = login(APIClient(), "alice")
    alice.refresh_from_db()

    response = reauthenticated(token_client(key)).get(EXPORT)
    text = b"".join(response).decode()

    assert key not in text
    assert alice.password not in text
    assert PASSWORD not in text
    for digest in alice.device_tokens.values_list("digest", flat=True):
        assert digest not in text


def test_a_jwt_sign_in_exports_its_family_as_current(jwt_mode: None, alice: User) -> None:
    access = jwt_login()["access"]

    _, document = exported(reauthenticated(bearer(access)))

    assert [(c["kind"], c["current"]) for c in document["credentials"]] == [("jwt", True)]
    assert access not in json.dumps(document)


@pytest.mark.parametrize("count", [0, 1, 4, 5, 11])
def test_every_post_is_written_once_whatever_the_chunking(
    alice: User, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setattr(export, "ITEMS_PER_CHUNK", 5)
    mine = posts_of(alice, count)

    _, document = exported(reauthenticated(token_client(login(APIClient(), "alice"))))

    assert [p["id"] for p in document["posts"]] == [p.pk for p in mine]


def test_posts_are_streamed_in_chunks_not_built_whole(alice: User) -> None:
    posts_of(alice, 2 * export.ITEMS_PER_CHUNK + 1)
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    chunks = list(client.get(EXPORT))

    largest = max(len(chunk) for chunk in chunks)
    assert largest < sum(len(chunk) for chunk in chunks) / 2
    assert len(chunks) > 3


def test_exports_are_limited_per_account(alice: User, rates: Any) -> None:
    rates(account_export="2/3600")
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    statuses = [client.get(EXPORT).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert token_client(login(APIClient(), "alice")).get(EXPORT).status_code == 403


def test_only_get_is_allowed(alice: User) -> None:
    client = reauthenticated(token_client(login(APIClient(), "alice")))
    assert client.post(EXPORT, {}, format="json").status_code == 405


def test_a_head_request_is_refused_without_exporting_or_charging_the_limit(
    alice: User, caplog: Any, rates: Any
) -> None:
    rates(account_export="1/3600")
    client = reauthenticated(token_client(login(APIClient(), "alice")))

    with caplog.at_level(logging.INFO, logger="blogapi.auth"):
        head = client.head(EXPORT)

    assert head.status_code == 405
    assert head["Content-Type"] == "application/json"
    assert "account.exported" not in caplog.text
    exported(client)  # the one export the limit allows is still there
