"""Every mail we send has a text and an HTML part, the project's name and the same links."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from conftest import PASSWORD, mailed_link

NEW = "a brand new passphrase"


def html_of(message: Any) -> str:
    alternatives = [content for content, kind in message.alternatives if kind == "text/html"]
    assert alternatives, f"no HTML part in {message.subject!r}"
    return str(alternatives[0])


def assert_well_formed(message: Any, *, link: str | None = None) -> None:
    html = html_of(message)
    assert message.subject.startswith("[blogapi] ")
    assert "blogapi" in message.body
    assert "blogapi" in html
    assert "<html" in html
    if link is not None:
        assert link in message.body
        assert f'href="{link}"' in html


def test_confirmation_mail_has_text_and_html_with_the_same_link(
    api_client: APIClient, db: None
) -> None:
    api_client.post(
        "/api/v1/dj-rest-auth/registration/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        format="json",
    )

    link = mailed_link(r"(https?://\S+/account-confirm-email/\S+/)").group(1)
    assert_well_formed(mail.outbox[-1], link=link)


@pytest.mark.parametrize("frontend", ["", "https://app.example.com"])
def test_reset_mail_links_to_the_page_or_the_frontend(
    api_client: APIClient, alice: User, settings: Any, frontend: str
) -> None:
    settings.FRONTEND_URL = frontend

    api_client.post("/api/v1/dj-rest-auth/password/reset/", {"email": "alice@example.com"})

    link = mailed_link(r"(https?://\S+/(?:reset-password|reset/confirm)/\S+)").group(1)
    assert link.startswith(frontend or settings.SITE_URL)
    assert_well_formed(mail.outbox[-1], link=link)
    assert "expires in one hour" in html_of(mail.outbox[-1])


def test_password_change_notice_has_both_parts_and_no_secret(alice_client: APIClient) -> None:
    alice_client.post(
        "/api/v1/dj-rest-auth/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        format="json",
    )

    notice = mail.outbox[-1]
    assert_well_formed(notice)
    assert "Your password has been changed." in html_of(notice)
    assert NEW not in notice.body + html_of(notice)


def test_account_exists_mail_has_both_parts(
    api_client: APIClient, user_factory: Callable[..., User], settings: Any
) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    user_factory("alice")

    api_client.post(
        "/api/v1/dj-rest-auth/registration/",
        {
            "username": "mallory",
            "email": "alice@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        format="json",
    )

    message = mail.outbox[-1]
    link = re.search(r"(https?://\S+/password/reset/?)\s", str(message.body))
    assert link
    assert_well_formed(message, link=link.group(1))
