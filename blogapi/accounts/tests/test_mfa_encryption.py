"""TOTP secrets encrypted at rest: stored encrypted, keys rotated, legacy rows migrated, a lost key
refused with a clear 400 (never a 500), and codes checked with allauth's TOTP settings."""

import importlib
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.mfa_encryption import decrypt_secret, encrypt_secret
from blogapi.accounts.models import User
from blogapi.accounts.services.mfa import INCORRECT_CODE, TOTP_UNAVAILABLE
from blogapi.accounts.tests.mfa import (
    REAUTHENTICATE,
    Clock,
    Enrolled,
    enroll,
    password_step,
    reauthenticated,
    totp,
)
from blogapi.accounts.tests.test_mfa import DEACTIVATE, STATUS, VERIFY
from blogapi.accounts.tests.test_mfa_html_login import code_step
from blogapi.accounts.tests.test_mfa_html_login import password_step as html_password_step
from conftest import token_client

OLD_KEY, NEW_KEY, OTHER_KEY = (Fernet.generate_key().decode() for _ in range(3))
LEGACY_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a base32 secret as stored before encryption
migration = importlib.import_module("blogapi.accounts.migrations.0009_encrypt_totp_secrets")


def stored_secret(user: User) -> str:
    return str(Authenticator.objects.get(user=user, type="totp").data["secret"])


def call_command_output(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def verify(code: str) -> Any:
    token = password_step(APIClient())["ephemeral_token"]
    return APIClient().post(VERIFY, {"ephemeral_token": token, "code": code}, format="json")


@pytest.fixture
def enrolled_under_old_key(settings: Any, clock: Clock, alice: User) -> Enrolled:
    settings.AUTH_MFA_ENCRYPTION_KEYS = [OLD_KEY]
    return enroll(clock, alice)


# --- stored encrypted ------------------------------------------------------------------------


def test_the_stored_secret_is_encrypted_under_the_first_key(
    enrolled: Enrolled, settings: Any
) -> None:
    stored = stored_secret(enrolled.user)

    assert enrolled.secret not in str(Authenticator.objects.get(type="totp").data)
    assert Fernet(settings.AUTH_MFA_ENCRYPTION_KEYS[0]).decrypt(stored).decode() == enrolled.secret
    with pytest.raises(InvalidToken):
        Fernet(OTHER_KEY).decrypt(stored)


def test_a_code_from_the_encrypted_secret_signs_in(clock: Clock, enrolled: Enrolled) -> None:
    response = verify(totp(enrolled.secret, clock.now))

    assert response.status_code == 200
    assert set(response.json()) == {"key"}


def test_the_default_key_is_the_one_derived_from_the_secret_key(settings: Any) -> None:
    # The test settings leave AUTH_MFA_ENCRYPTION_KEYS unset: the key in use is the derived one.
    out = call_command_output("rotate_mfa_keys", "--show-default-key")

    assert out.strip() == settings.AUTH_MFA_ENCRYPTION_KEYS[0]
    assert settings.SECRET_KEY not in out
    Fernet(out.strip())  # a valid key


# --- rotation --------------------------------------------------------------------------------


def test_a_new_first_key_encrypts_and_the_old_one_still_decrypts(
    enrolled_under_old_key: Enrolled, clock: Clock, settings: Any
) -> None:
    settings.AUTH_MFA_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    assert verify(totp(enrolled_under_old_key.secret, clock.now)).status_code == 200


def test_rotation_reencrypts_every_secret_under_the_first_key(
    enrolled_under_old_key: Enrolled, clock: Clock, settings: Any, bob: User
) -> None:
    settings.AUTH_MFA_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    out = call_command_output("rotate_mfa_keys")

    assert "Re-encrypted 1 TOTP secret(s)" in out
    stored = stored_secret(enrolled_under_old_key.user)
    assert Fernet(NEW_KEY).decrypt(stored).decode() == enrolled_under_old_key.secret
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY).decrypt(stored)
    settings.AUTH_MFA_ENCRYPTION_KEYS = [NEW_KEY]  # the old key dropped
    assert verify(totp(enrolled_under_old_key.secret, clock.now)).status_code == 200


def test_rotation_encrypts_a_secret_left_in_clear(alice: User) -> None:
    Authenticator.objects.create(user=alice, type="totp", data={"secret": LEGACY_SECRET})

    assert "Re-encrypted 1 TOTP secret(s)" in call_command_output("rotate_mfa_keys")
    assert stored_secret(alice) != LEGACY_SECRET
    assert decrypt_secret(stored_secret(alice)) == LEGACY_SECRET


def test_rotation_reports_secrets_no_key_opens_and_leaves_them(
    enrolled_under_old_key: Enrolled, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = stored_secret(enrolled_under_old_key.user)
    settings.AUTH_MFA_ENCRYPTION_KEYS = [NEW_KEY]

    with pytest.raises(CommandError, match="1 TOTP secret\\(s\\) could not be decrypted"):
        call_command_output("rotate_mfa_keys")

    assert stored_secret(enrolled_under_old_key.user) == before
    assert "mfa.totp_secret_unreadable" in caplog.text


# --- a secret no key opens: refused with a clear 400, logged, recovery codes still work ---------


def test_a_totp_code_is_refused_clearly_when_no_key_opens_the_secret(
    enrolled_under_old_key: Enrolled,
    clock: Clock,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.AUTH_MFA_ENCRYPTION_KEYS = [NEW_KEY]
    token = password_step(APIClient())["ephemeral_token"]
    code = totp(enrolled_under_old_key.secret, clock.now)

    refused = APIClient().post(VERIFY, {"ephemeral_token": token, "code": code}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {"code": [TOTP_UNAVAILABLE]}
    assert f"mfa.totp_secret_unreadable user_id={enrolled_under_old_key.user.pk}" in caplog.text
    # Recovery codes are digests, not encrypted: the same sign-in completes with one.
    recovered = APIClient().post(
        VERIFY,
        {"ephemeral_token": token, "code": enrolled_under_old_key.recovery_codes[0]},
        format="json",
    )
    assert recovered.status_code == 200


@pytest.mark.parametrize("stored", [12345, None, "", "gAAAAA-not-a-token"])
def test_a_damaged_stored_secret_is_refused_clearly_too(
    enrolled: Enrolled, clock: Clock, stored: Any
) -> None:
    Authenticator.objects.filter(user=enrolled.user, type="totp").update(data={"secret": stored})

    response = verify(totp(enrolled.secret, clock.now))

    assert (response.status_code, response.json()) == (400, {"code": [TOTP_UNAVAILABLE]})
    with pytest.raises(CommandError, match="1 TOTP secret"):
        call_command_output("rotate_mfa_keys")


def test_reauthentication_and_deactivation_refuse_clearly_and_a_recovery_code_turns_it_off(
    enrolled_under_old_key: Enrolled, clock: Clock, settings: Any
) -> None:
    settings.AUTH_MFA_ENCRYPTION_KEYS = [NEW_KEY]
    client = token_client(enrolled_under_old_key.key)
    code = totp(enrolled_under_old_key.secret, clock.now)

    reauth = client.post(REAUTHENTICATE, {"code": code}, format="json")
    deactivate = reauthenticated(client).post(DEACTIVATE, {"code": code}, format="json")

    assert (reauth.status_code, reauth.json()) == (400, {"code": [TOTP_UNAVAILABLE]})
    assert (deactivate.status_code, deactivate.json()) == (400, {"code": [TOTP_UNAVAILABLE]})
    # The way out for the user: a recovery code turns TOTP off, and it can be set up anew.
    off = client.post(DEACTIVATE, {"code": enrolled_under_old_key.recovery_codes[0]}, format="json")
    assert off.status_code == 200
    assert client.get(STATUS).json()["totp"] is False


def test_the_html_code_step_says_why_the_code_is_refused(
    settings: Any, clock: Clock, user_factory: type
) -> None:
    settings.AUTH_MFA_ENCRYPTION_KEYS = [OLD_KEY]
    enrolled = enroll(clock, user_factory("alice", is_staff=True))
    settings.AUTH_MFA_ENCRYPTION_KEYS = [NEW_KEY]
    browser = Client(enforce_csrf_checks=True)
    html_password_step(browser, "browsable")

    page = code_step(browser, "browsable", totp(enrolled.secret, clock.now))

    assert page.status_code == 200
    assert TOTP_UNAVAILABLE in page.content.decode()
    assert INCORRECT_CODE not in page.content.decode()


# --- the data migration ----------------------------------------------------------------------


def test_the_migration_encrypts_secrets_stored_in_clear_and_is_reversible(
    alice: User, bob: User, clock: Clock
) -> None:
    Authenticator.objects.create(user=alice, type="totp", data={"secret": LEGACY_SECRET})
    Authenticator.objects.create(
        user=bob, type="totp", data={"secret": encrypt_secret("ABCDEFGHABCDEFGH")}
    )
    bobs = stored_secret(bob)

    migration.encrypt_totp_secrets(apps, None)
    encrypted = stored_secret(alice)
    migration.encrypt_totp_secrets(apps, None)  # a second run changes nothing

    assert encrypted != LEGACY_SECRET
    assert stored_secret(alice) == encrypted
    assert stored_secret(bob) == bobs  # already encrypted: left alone
    assert verify(totp(LEGACY_SECRET, clock.now)).status_code == 200  # alice signs in as before

    migration.decrypt_totp_secrets(apps, None)

    assert stored_secret(alice) == LEGACY_SECRET
    assert stored_secret(bob) == "ABCDEFGHABCDEFGH"


def test_the_reverse_migration_leaves_a_secret_no_key_opens(alice: User, settings: Any) -> None:
    unreadable = Fernet(OTHER_KEY).encrypt(LEGACY_SECRET.encode()).decode()
    Authenticator.objects.create(user=alice, type="totp", data={"secret": unreadable})

    migration.decrypt_totp_secrets(apps, None)
    migration.encrypt_totp_secrets(apps, None)

    assert stored_secret(alice) == unreadable


# --- codes checked by pyotp with allauth's settings ------------------------------------------


@pytest.mark.parametrize(
    ("tolerance", "offset", "accepted"),
    [(0, -30, False), (0, 30, False), (1, -30, True), (1, 30, True), (1, -60, False)],
)
def test_codes_of_neighbouring_periods_follow_the_tolerance_setting(
    enrolled: Enrolled,
    clock: Clock,
    settings: Any,
    tolerance: int,
    offset: int,
    accepted: bool,
) -> None:
    settings.MFA_TOTP_TOLERANCE = tolerance
    clock.step()  # the period before is not the one the activation spent
    code = totp(enrolled.secret, clock.now + timedelta(seconds=offset))

    response = verify(code)

    assert response.status_code == (200 if accepted else 400), response.content
