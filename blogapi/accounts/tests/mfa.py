"""Two-factor helpers for the tests: a frozen clock, TOTP codes computed from the secret."""

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, login, token_client

API = "/api/v1/dj-rest-auth/"
LOGIN = API + "login/"
ACTIVATE = API + "mfa/totp/activate/"
START = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def totp(secret: str, at: datetime) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), written here independently of the code under test."""
    key = base64.b32decode(secret)
    mac = hmac.new(key, struct.pack(">Q", int(at.timestamp()) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**6:06d}"


@dataclass
class Clock:
    """The frozen time of a test; `step()` moves it to the next TOTP period."""

    traveller: Any
    now: datetime

    def shift(self, delta: timedelta) -> None:
        self.now += delta
        self.traveller.move_to(self.now)

    def step(self) -> None:
        self.shift(timedelta(seconds=30))


@dataclass
class Enrolled:
    """Alice with TOTP on: her secret, recovery codes and the token she turned it on with."""

    user: User
    secret: str
    recovery_codes: list[str]
    key: str


def enroll(clock: Clock, user: User) -> Enrolled:
    key = login(APIClient(), user.username)
    client = token_client(key)
    setup = client.get(ACTIVATE).json()
    response = client.post(
        ACTIVATE,
        {"activation_token": setup["activation_token"], "code": totp(setup["secret"], clock.now)},
        format="json",
    )
    assert response.status_code == 200, response.content
    clock.step()  # the activation spent this period's code
    return Enrolled(user, setup["secret"], response.json()["recovery_codes"], key)


def password_step(client: APIClient, **extra: str) -> dict[str, Any]:
    response = client.post(
        LOGIN, {"username": "alice", "password": PASSWORD, **extra}, format="json"
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


REAUTHENTICATE = API + "reauthenticate/"


def reauthenticated(client: APIClient) -> APIClient:
    """The client's credential, reauthenticated with the password."""
    response = client.post(REAUTHENTICATE, {"password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return client
