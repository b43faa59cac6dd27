"""Structured logs over HTTP: one line per request, one per auth event, and never a secret."""

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.models import DeviceToken, User, token_digest
from blogapi.core.logging import RedactingJsonFormatter, RedactingTextFormatter
from conftest import PASSWORD, login, mailed_link, settings_in_subprocess, token_client

REGISTER = "/api/v1/dj-rest-auth/registration/"
LOGIN = "/api/v1/dj-rest-auth/login/"
LOGOUT = "/api/v1/dj-rest-auth/logout/"
LOGOUT_ALL = "/api/v1/dj-rest-auth/logout-all/"
TOKENS = "/api/v1/dj-rest-auth/tokens/"
CHANGE = "/api/v1/dj-rest-auth/password/change/"
RESET = "/api/v1/dj-rest-auth/password/reset/"
RESET_CONFIRM = "/api/v1/dj-rest-auth/password/reset/confirm/"
CONFIRM_LINK = r"https?://[^/\s]+(?P<path>/\S+/account-confirm-email/(?P<key>[^/\s]+)/)"
RESET_LINK = (
    r"https?://[^/\s]+(?P<path>/\S+/password/reset/confirm/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/)"
)
NEW_PASSWORD = "a brand new passphrase"
NEWER_PASSWORD = "an even newer passphrase"
EVENT_FIELDS = ("event", "user_id", "via", "kind", "count", "token_id")


class FormattedLines(logging.Handler):
    """Every record as the JSON and the text formatter would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.json_lines: list[str] = []
        self.text_lines: list[str] = []
        self.formatters = (RedactingJsonFormatter(), RedactingTextFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        json_formatter, text_formatter = self.formatters
        self.json_lines.append(json_formatter.format(record))
        self.text_lines.append(text_formatter.format(record))

    def objects(self, logger: str) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.json_lines]
        return [line for line in parsed if line["logger"] == logger]


@pytest.fixture
def log_output(caplog: pytest.LogCaptureFixture) -> Iterator[FormattedLines]:
    """Everything logged at any level while the test runs, as it would be written."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    handler = FormattedLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "blogapi.request"]


def auth_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {name: record.__dict__[name] for name in EVENT_FIELDS if name in record.__dict__}
        for record in caplog.records
        if record.name == "blogapi.auth"
    ]


def named(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    return [line for line in auth_events(caplog) if line["event"] == event]


# --- The request log --------------------------------------------------------------------------


def test_each_request_is_one_line_with_route_status_duration_and_user(
    alice_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()

    response = alice_client.get(f"/api/v1/users/{alice.pk}/?page_size=5")

    [line] = request_lines(caplog)
    assert line.levelno == logging.INFO
    assert line.__dict__["request_id"] == response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", line.__dict__["request_id"])
    assert line.__dict__["method"] == "GET"
    assert line.__dict__["route"] == "api/v1/users/<int:pk>/"
    assert line.__dict__["path"] == f"/api/v1/users/{alice.pk}/"  # never the query string
    assert line.__dict__["status"] == 200
    assert line.__dict__["duration_ms"] >= 0
    assert line.__dict__["user_id"] == alice.pk
    assert line.__dict__["client_ip"] == "127.0.0.1"


def test_anonymous_requests_to_unknown_paths_are_logged_unmatched(
    api_client: APIClient, db: None, caplog: pytest.LogCaptureFixture
) -> None:
    api_client.get("/no/such/page/?q=1")

    [line] = request_lines(caplog)
    assert line.__dict__["route"] == "unmatched"
    assert line.__dict__["path"] == "/no/such/page/"
    assert line.__dict__["status"] == 404
    assert line.__dict__["user_id"] is None


def test_a_server_error_is_logged_at_error_level(
    db: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode() -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr("blogapi.core.health._database_is_reachable", explode)

    response = Client(raise_request_exception=False).get("/readyz")

    assert response.status_code == 500
    [line] = request_lines(caplog)
    assert line.levelno == logging.ERROR
    assert line.__dict__["status"] == 500


def test_a_valid_incoming_request_id_is_kept_and_returned(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a-0001")

    assert response["X-Request-ID"] == "lb-7f3a-0001"
    assert request_lines(caplog)[0].__dict__["request_id"] == "lb-7f3a-0001"


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 65, "has space", "new\nline", 'quote"d', "under_score", "ünïcode", "a/b"],
)
def test_an_invalid_incoming_request_id_is_replaced(
    client: Client, caplog: pytest.LogCaptureFixture, incoming: str
) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert request_lines(caplog)[0].__dict__["request_id"] == response["X-Request-ID"]


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (
            "/api/v1/dj-rest-auth/password/reset/confirm/MQ/cz6vqa-0123456789abcdef/",
            "/api/v1/dj-rest-auth/password/reset/confirm/***/***/",
        ),
        (
            "/api/v1/dj-rest-auth/registration/account-confirm-email/Mw:1tYx:AbCdEf/",
            "/api/v1/dj-rest-auth/registration/account-confirm-email/***/",
        ),
        (
            "/api/v1/dj-rest-auth/password/reset/confirm/MQ/cz6vqa-0123/extra",
            "/api/v1/dj-rest-auth/password/reset/confirm/***/***/***",
        ),
        (
            "/api/v1/dj-rest-auth/password/reset/confirm/",
            "/api/v1/dj-rest-auth/password/reset/confirm/",
        ),
    ],
)
def test_mailed_link_secrets_are_redacted_from_the_logged_path(
    api_client: APIClient,
    db: None,
    caplog: pytest.LogCaptureFixture,
    log_output: FormattedLines,
    path: str,
    logged: str,
) -> None:
    api_client.get(path)

    assert request_lines(caplog)[0].__dict__["path"] == logged
    [line] = log_output.objects("blogapi.request")
    assert line["path"] == logged


def test_json_lines_carry_time_level_logger_message_and_request_id(
    client: Client, log_output: FormattedLines
) -> None:
    response = client.get("/healthz")

    [line] = log_output.objects("blogapi.request")
    assert line["level"] == "INFO"
    assert line["message"].startswith("GET /healthz 200 ")
    assert line["request_id"] == response["X-Request-ID"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line["time"])
    assert {"method", "route", "path", "status", "duration_ms", "user_id", "client_ip"} <= set(line)


# --- Auth events ------------------------------------------------------------------------------


def test_a_json_login_logs_one_success_and_a_new_token(
    api_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    login(api_client, "alice")

    token = DeviceToken.objects.get(user=alice)
    assert auth_events(caplog) == [
        {"event": "login.succeeded", "user_id": alice.pk, "via": "token"},
        {"event": "credential.created", "kind": "token", "user_id": alice.pk, "token_id": token.pk},
    ]


def test_a_browsable_api_form_login_logs_one_success_and_both_credentials(
    api_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    api_client.post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert len(named(caplog, "login.succeeded")) == 1
    kinds = [line["kind"] for line in named(caplog, "credential.created")]
    assert sorted(kinds) == ["session", "token"]


def test_a_session_login_logs_a_success_and_a_new_session(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    response = Client().post("/api-auth/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert auth_events(caplog) == [
        {"event": "login.succeeded", "user_id": alice.pk, "via": "session"},
        {"event": "credential.created", "kind": "session", "user_id": alice.pk},
    ]


@pytest.mark.parametrize(
    ("credentials", "known"),
    [
        ({"username": "alice", "password": "wrong password here"}, True),
        ({"email": "alice@example.com", "password": "wrong password here"}, True),
        ({"username": "nobody", "password": PASSWORD}, False),
    ],
)
def test_a_failed_login_logs_the_account_but_not_what_was_typed(
    api_client: APIClient,
    alice: User,
    caplog: pytest.LogCaptureFixture,
    log_output: FormattedLines,
    credentials: dict[str, str],
    known: bool,
) -> None:
    api_client.post(LOGIN, credentials, format="json")

    assert auth_events(caplog) == [
        {"event": "login.failed", "user_id": alice.pk if known else None}
    ]
    [line] = log_output.objects("blogapi.auth")
    typed = " ".join(credentials.values())
    assert not any(word in json.dumps(line) for word in typed.split() if len(word) > 3)


def test_a_locked_account_logs_each_refused_attempt(
    api_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = {"username": "alice", "password": "wrong password here"}
    for _ in range(5):
        api_client.post(LOGIN, wrong, format="json")

    response = api_client.post(LOGIN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert len(named(caplog, "login.failed")) == 5
    assert named(caplog, "login.locked") == [{"event": "login.locked", "user_id": alice.pk}]


def test_logout_logs_the_revoked_token(alice: User, caplog: pytest.LogCaptureFixture) -> None:
    client = token_client(login(APIClient(), "alice"))
    caplog.clear()

    client.post(LOGOUT)

    assert auth_events(caplog) == [
        {"event": "credential.revoked", "kind": "token", "count": 1, "user_id": alice.pk}
    ]


def test_logout_of_a_browser_session_logs_the_revoked_session(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    browser = Client()
    browser.post("/api-auth/login/", {"username": "alice", "password": PASSWORD})
    caplog.clear()

    browser.post(LOGOUT)

    assert auth_events(caplog) == [
        {"event": "credential.revoked", "kind": "session", "count": 1, "user_id": alice.pk}
    ]


def test_revoking_one_credential_logs_it(
    alice_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    other = login(APIClient(), "alice")
    other_id = DeviceToken.objects.get(digest=token_digest(other)).pk
    caplog.clear()

    alice_client.delete(f"{TOKENS}token-{other_id}/")

    assert auth_events(caplog) == [
        {"event": "credential.revoked", "kind": "token", "count": 1, "user_id": alice.pk}
    ]


def test_logout_all_logs_how_many_credentials_of_each_kind_ended(
    alice_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    login(APIClient(), "alice")
    Client().post("/api-auth/login/", {"username": "alice", "password": PASSWORD})
    caplog.clear()

    alice_client.post(LOGOUT_ALL)

    assert auth_events(caplog) == [
        {"event": "credential.revoked", "kind": "token", "count": 2, "user_id": alice.pk},
        {"event": "credential.revoked", "kind": "session", "count": 1, "user_id": alice.pk},
    ]


def test_a_password_change_logs_the_change_and_the_other_credentials_it_ended(
    alice_client: APIClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    login(APIClient(), "alice")
    caplog.clear()

    response = alice_client.post(
        CHANGE,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 200
    assert auth_events(caplog) == [
        {"event": "password.changed", "user_id": alice.pk},
        {"event": "credential.revoked", "kind": "token", "count": 1, "user_id": alice.pk},
    ]


def test_a_password_reset_logs_the_reset_and_every_credential_it_ended(
    alice_client: APIClient, alice: User, api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    api_client.post(RESET, {"email": "alice@example.com"}, format="json")
    link = mailed_link(RESET_LINK)
    caplog.clear()

    response = api_client.post(
        RESET_CONFIRM,
        {
            "uid": link.group("uid"),
            "token": link.group("token"),
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        format="json",
    )

    assert response.status_code == 200
    assert auth_events(caplog) == [
        {"event": "password.reset", "user_id": alice.pk},
        {"event": "credential.revoked", "kind": "token", "count": 1, "user_id": alice.pk},
    ]


def test_auth_events_carry_the_request_id_of_their_request(
    api_client: APIClient, alice: User, log_output: FormattedLines
) -> None:
    response = api_client.post(
        LOGIN, {"username": "alice", "password": PASSWORD}, format="json", HTTP_X_REQUEST_ID="r-1"
    )

    assert response["X-Request-ID"] == "r-1"
    events = log_output.objects("blogapi.auth")
    assert [line["event"] for line in events] == ["login.succeeded", "credential.created"]
    assert {line["request_id"] for line in events} == {"r-1"}


# --- Never a secret ---------------------------------------------------------------------------


def test_no_secret_reaches_the_logs_in_a_whole_account_lifecycle(
    db: None, log_output: FormattedLines
) -> None:
    anon = APIClient()
    registration = anon.post(
        REGISTER,
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        format="json",
    )
    assert registration.status_code == 201
    signup_key = registration.json()["key"]
    confirmation = mailed_link(CONFIRM_LINK)
    confirmation_mail = str(mail.outbox[-1].body)
    assert anon.get(confirmation.group("path")).status_code == 200
    assert anon.post(confirmation.group("path")).status_code == 200
    assert anon.post(confirmation.group("path")).status_code == 400  # used: Django logs a 400

    assert anon.post(LOGIN, {"username": "carol", "password": "not it at all"}).status_code == 400
    app_key = login(APIClient(), "carol")
    assert token_client(app_key).get("/api/v1/").status_code == 200
    assert token_client(app_key + "x").get("/api/v1/").status_code == 401
    browser = Client()
    assert (
        browser.post("/api-auth/login/", {"username": "carol", "password": PASSWORD}).status_code
        == 302
    )
    session_key = browser.cookies["sessionid"].value
    assert browser.get("/api/v1/").status_code == 200
    change = {
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    assert token_client(app_key).post(CHANGE, change, format="json").status_code == 200

    assert anon.post(RESET, {"email": "carol@example.com"}, format="json").status_code == 200
    reset = mailed_link(RESET_LINK)
    reset_mail = str(mail.outbox[-1].body)
    new_password = {"new_password1": NEWER_PASSWORD, "new_password2": NEWER_PASSWORD}
    assert anon.get(reset.group("path")).status_code == 200
    assert anon.post(reset.group("path"), new_password).status_code == 200
    assert anon.post(reset.group("path"), new_password).status_code == 400  # used link
    last_key = login(APIClient(), "carol", NEWER_PASSWORD)
    assert token_client(last_key).post(LOGOUT).status_code == 200

    written = "\n".join(log_output.json_lines + log_output.text_lines)
    keys = [signup_key, app_key, last_key]
    secrets = [
        PASSWORD,
        NEW_PASSWORD,
        NEWER_PASSWORD,
        *keys,
        *(token_digest(key) for key in keys),
        confirmation.group("key"),
        reset.group("token"),
        session_key,
        "carol@example.com",
        *(line for line in (confirmation_mail + reset_mail).splitlines() if len(line) > 15),
    ]
    leaked = [secret for secret in secrets if secret in written]
    assert leaked == []
    # The flow was logged, with the mailed links' paths redacted.
    assert "/account-confirm-email/***/" in written
    assert "/password/reset/confirm/***/***/" in written
    assert "Bad Request: /api/v1/dj-rest-auth/password/reset/confirm/***/***/" in written
    events = {line["event"] for line in log_output.objects("blogapi.auth")}
    assert events == {
        "credential.created",
        "login.failed",
        "login.succeeded",
        "password.changed",
        "password.reset",
        "credential.revoked",
    }


# --- Configuration ----------------------------------------------------------------------------


def test_logs_are_json_by_default_and_text_on_request() -> None:
    expression = "settings.LOGGING['handlers']['console']['formatter']"

    assert settings_in_subprocess({"DJANGO_DEBUG": "true"}, expression).stdout.strip() == "'json'"
    text = settings_in_subprocess({"DJANGO_DEBUG": "true", "LOG_FORMAT": "text"}, expression)
    assert text.stdout.strip() == "'text'"


def test_an_unknown_log_format_refuses_to_start() -> None:
    result = settings_in_subprocess({"DJANGO_DEBUG": "true", "LOG_FORMAT": "xml"})

    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text" in result.stderr
