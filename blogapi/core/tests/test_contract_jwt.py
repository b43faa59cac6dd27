"""Contract fuzzing in JWT mode (AUTH_JWT=true, with cookies): the same checks, Bearer tokens.

The server runs with AUTH_JWT and AUTH_JWT_COOKIES, so /api/schema/ describes that deployment
(the login's JWT shape, the Bearer scheme); every operation is fuzzed as in test_contract.py,
anonymously and with a live access token of a signed-up, confirmed user.
"""

import os
import re
import secrets
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from schemathesis import Case

from blogapi.core.tests.processes import (
    PER_IP_RATE_LIMITS,
    AppServer,
    manage,
    require_tools,
    services,
    stop_quietly,
)
from blogapi.core.tests.test_contract import (  # the fixtures and checks of the token run
    Live,
    _nodeid_for_schemathesis,
    api_schema,
    deadline,
    within_budget,
)

pytestmark = pytest.mark.system

_required_tools = require_tools()
__all__ = ["_nodeid_for_schemathesis", "api_schema", "deadline"]  # fixtures used by name

JWT_ENV = {
    "AUTH_JWT": "true",
    "AUTH_JWT_COOKIES": "true",
    "AUTH_JWT_SIGNING_KEY": "contract-only-jwt-signing-key-0123456789abcdef",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("contract-jwt")
    with services(os.environ.get("HOME", str(root))) as running:
        rates = f"{PER_IP_RATE_LIMITS},login_failures=100000/60"
        env = {**running.env, **JWT_ENV, "RATE_LIMITS": rates}
        manage(env, "migrate", "--noinput")
        app = AppServer(env, root / "gunicorn.log")
        try:
            app.start()
            yield Live(app, running.smtp)
        finally:
            stop_quietly(app.stop)


class AccessTokens:
    """The fuzzing user's access token, replaced by a fresh login after a case that may end it."""

    REVOKING = frozenset(
        {
            "POST /api/v1/dj-rest-auth/logout/",
            "POST /api/v1/dj-rest-auth/logout-all/",
            "DELETE /api/v1/dj-rest-auth/tokens/{credential_id}/",
        }
    )

    def __init__(self, live: Live) -> None:
        self.url = url = live.app.url
        self.password = secrets.token_urlsafe(24)
        self.email = "jwt-fuzzer@example.com"
        signed_up = requests.post(
            f"{url}/api/v1/dj-rest-auth/registration/",
            json={
                "username": "jwt-fuzzer",
                "email": self.email,
                "password1": self.password,
                "password2": self.password,
            },
            timeout=30,
        )
        assert signed_up.status_code == 201, signed_up.text
        self.access: str | None = signed_up.json()["access"]
        mailed = re.search(r"/account-confirm-email/([^/\s]+)/", live.smtp.body_to(self.email))
        assert mailed, "no confirmation link mailed"
        confirmed = requests.post(
            f"{url}/api/v1/dj-rest-auth/registration/verify-email/",
            json={"key": mailed[1]},
            timeout=30,
        )
        assert confirmed.status_code == 200, confirmed.text

    def headers(self) -> dict[str, str]:
        if self.access is None:
            response = requests.post(
                f"{self.url}/api/v1/dj-rest-auth/login/",
                json={"email": self.email, "password": self.password},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            self.access = response.json()["access"]
        return {"Authorization": f"Bearer {self.access}"}

    def used_by(self, case: Case) -> None:
        if case.operation.label in self.REVOKING:
            self.access = None


@pytest.fixture(scope="module")
def tokens(live: Live) -> AccessTokens:
    return AccessTokens(live)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_anonymous_requests_get_documented_answers_in_jwt_mode(case: Case, deadline: float) -> None:
    within_budget(deadline)
    case.call_and_validate()


@schema.parametrize()
def test_bearer_requests_get_documented_answers(
    case: Case, tokens: AccessTokens, deadline: float
) -> None:
    within_budget(deadline)
    try:
        case.call_and_validate(headers=tokens.headers())
    finally:
        tokens.used_by(case)


def test_the_jwt_schema_names_the_bearer_scheme(live: Live) -> None:
    schema = requests.get(f"{live.app.url}/api/schema/?format=json", timeout=30).json()

    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    login = schema["paths"]["/api/v1/dj-rest-auth/login/"]["post"]["responses"]["200"]
    # A completed login's JWT shape, or (a user with a second factor) the code step's.
    answer = login["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    shapes = [
        ref["$ref"].rsplit("/", 1)[-1] for ref in schema["components"]["schemas"][answer]["oneOf"]
    ]
    assert shapes == ["JwtOutput", "MfaRequired"]
