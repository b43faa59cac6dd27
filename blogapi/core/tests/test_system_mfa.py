"""Two-factor sign-in on two gunicorn servers sharing PostgreSQL and Redis: nothing spent twice."""

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from blogapi.accounts.tests.mfa import totp
from blogapi.core.tests.processes import (
    AppServer,
    Services,
    manage,
    register,
    require_tools,
    services,
    stop_quietly,
    unique_name,
)

pytestmark = pytest.mark.system

_required_tools = require_tools()

PASSWORD = "correct horse battery staple"
API = "/api/v1/dj-rest-auth/"


@dataclass
class Stack:
    running: Services
    a: AppServer
    b: AppServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("system-mfa")
    with services(os.environ.get("HOME", str(root))) as running:
        manage(running.env, "migrate", "--noinput")
        a, b = AppServer(running.env, root / "a.log"), AppServer(running.env, root / "b.log")
        try:
            a.start()
            b.start()
            yield Stack(running, a, b)
        finally:
            stop_quietly(a.stop)
            stop_quietly(b.stop)


def post(server: AppServer, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Authorization": f"Token {key}"} if key else {}
    return requests.post(f"{server.url}{API}{path}", json=body, headers=headers, timeout=30)


@dataclass
class Enrolled:
    username: str
    secret: str
    recovery_codes: list[str]
    code: str  # the TOTP code the activation spent


def enroll_on(stack: Stack, server: AppServer) -> Enrolled:
    """A new user, address confirmed, turns TOTP on through `server` with a code computed here."""
    name = unique_name("mfa")
    key = register(server.url, name, PASSWORD)
    mailed = re.search(
        r"/account-confirm-email/([^/\s]+)/", stack.running.smtp.body_to(f"{name}@example.com")
    )
    assert mailed, "no confirmation link mailed"
    assert post(server, "registration/verify-email/", {"key": mailed[1]}).status_code == 200
    setup = requests.get(
        f"{server.url}{API}mfa/totp/activate/",
        headers={"Authorization": f"Token {key}"},
        timeout=30,
    ).json()
    # Not in a period's last seconds: the code must still be current when replayed below.
    if time.time() % 30 > 22:
        time.sleep(30 - time.time() % 30 + 0.1)
    code = totp(setup["secret"], datetime.now(UTC))
    activated = post(
        server,
        "mfa/totp/activate/",
        {"activation_token": setup["activation_token"], "code": code},
        key,
    )
    assert activated.status_code == 200, activated.text
    return Enrolled(name, setup["secret"], activated.json()["recovery_codes"], code)


def password_step(server: AppServer, username: str) -> str:
    answer = post(server, "login/", {"username": username, "password": PASSWORD}).json()
    assert answer["mfa_required"] is True, answer
    return str(answer["ephemeral_token"])


def test_a_totp_code_accepted_on_one_server_is_refused_on_the_other(stack: Stack) -> None:
    enrolled = enroll_on(stack, stack.a)  # A accepted enrolled.code
    token = password_step(stack.b, enrolled.username)

    replayed = post(stack.b, "mfa/verify/", {"ephemeral_token": token, "code": enrolled.code})

    assert replayed.status_code == 400, replayed.text
    assert "code" in replayed.json()
    # Refused as a replay (not as a code past its period): B logged it so.
    assert "mfa.totp_replayed" in Path(stack.b.log).read_text()
    # The token was not spent by the refusal: a right code still signs in, on A.
    signed_in = post(
        stack.a, "mfa/verify/", {"ephemeral_token": token, "code": enrolled.recovery_codes[0]}
    )
    assert signed_in.status_code == 200, signed_in.text
    assert "key" in signed_in.json()


def test_an_ephemeral_token_spent_on_one_server_is_refused_on_the_other(stack: Stack) -> None:
    enrolled = enroll_on(stack, stack.a)
    token = password_step(stack.a, enrolled.username)
    spent = post(
        stack.a, "mfa/verify/", {"ephemeral_token": token, "code": enrolled.recovery_codes[0]}
    )
    assert spent.status_code == 200, spent.text

    again = post(
        stack.b, "mfa/verify/", {"ephemeral_token": token, "code": enrolled.recovery_codes[1]}
    )

    assert again.status_code == 400, again.text
    assert "ephemeral_token" in again.json()
    # The refused attempt spent nothing: the second recovery code still works, on B.
    fresh = password_step(stack.b, enrolled.username)
    assert (
        post(
            stack.b, "mfa/verify/", {"ephemeral_token": fresh, "code": enrolled.recovery_codes[1]}
        ).status_code
        == 200
    )
