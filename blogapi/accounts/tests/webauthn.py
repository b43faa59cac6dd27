"""A software WebAuthn authenticator for the tests: real EC P-256 keys and fido2's public classes.

It answers the server's options as a browser would (PublicKeyCredential JSON, base64url fields),
and can lie on purpose: another origin, another RP ID, a stale challenge, a lower counter.
"""

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)
from rest_framework.test import APIClient

from blogapi.accounts.tests.mfa import API, reauthenticated

WEBAUTHN = API + "mfa/webauthn/"
REGISTER_BEGIN = WEBAUTHN + "register/begin/"
REGISTER = WEBAUTHN + "register/"
AUTHENTICATE = WEBAUTHN + "authenticate/"
LOGIN_BEGIN = WEBAUTHN + "login/begin/"
PASSKEY_LOGIN = WEBAUTHN + "login/"
VERIFY = API + "mfa/verify/"
REAUTH_BEGIN = API + "reauthenticate/webauthn/begin/"
REAUTHENTICATE = API + "reauthenticate/"

FLAGS = AuthenticatorData.FLAG


@dataclass
class SoftAuthenticator:
    """One passkey: its private key, credential id, the user handle it keeps, its counter."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    user_handle: bytes | None = None
    counter: int = 0

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: bytes | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.create(): a 'none' attestation of a new key pair."""
        public_key = options["publicKey"]
        self.user_handle = websafe_decode(public_key["user"]["id"])
        credential = AttestedCredentialData.create(
            b"\0" * 16, self.credential_id, ES256.from_cryptography_key(self.key.public_key())
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or public_key["rp"]["id"]).encode()).digest(),
            FLAGS.UP | FLAGS.UV | FLAGS.AT,
            self.counter,
            credential,
        )
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.CREATE,
            challenge=challenge or websafe_decode(public_key["challenge"]),
            origin=origin or settings.AUTH_WEBAUTHN_ORIGINS[0],
        )
        attestation = AttestationObject.create("none", auth_data, {})
        return {
            "id": websafe_encode(self.credential_id),
            "rawId": websafe_encode(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "attestationObject": websafe_encode(bytes(attestation)),
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        counter: int | None = None,
        flags: AuthenticatorData.FLAG = FLAGS.UP | FLAGS.UV,
    ) -> dict[str, Any]:
        """navigator.credentials.get(): a signed assertion; the counter grows by one."""
        public_key = options["publicKey"]
        self.counter = self.counter + 1 if counter is None else counter
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or public_key["rpId"]).encode()).digest(), flags, self.counter
        )
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.GET,
            challenge=websafe_decode(public_key["challenge"]),
            origin=origin or settings.AUTH_WEBAUTHN_ORIGINS[0],
        )
        signature = self.key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        return {
            "id": websafe_encode(self.credential_id),
            "rawId": websafe_encode(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "authenticatorData": websafe_encode(bytes(auth_data)),
                "signature": websafe_encode(signature),
                "userHandle": websafe_encode(self.user_handle or b""),
            },
            "clientExtensionResults": {},
        }


def register_begin(client: APIClient, *, passwordless: bool = True) -> dict[str, Any]:
    response = client.post(REGISTER_BEGIN, {"passwordless": passwordless}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def register_passkey(
    client: APIClient,
    authenticator: SoftAuthenticator,
    *,
    passwordless: bool = True,
    name: str = "Alice's phone",
) -> dict[str, Any]:
    """The whole registration, after a reauthentication with the password; answers the 201 body."""
    begun = register_begin(reauthenticated(client), passwordless=passwordless)
    response = client.post(
        REGISTER,
        {
            "registration_token": begun["registration_token"],
            "credential": authenticator.create(begun["creation_options"]),
            "name": name,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def second_factor_options(ephemeral_token: str) -> dict[str, Any]:
    response = APIClient().post(AUTHENTICATE, {"ephemeral_token": ephemeral_token}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json()["request_options"])


def login_options() -> tuple[dict[str, Any], str]:
    response = APIClient().post(LOGIN_BEGIN)
    assert response.status_code == 200, response.content
    body = response.json()
    return body["request_options"], body["login_token"]
