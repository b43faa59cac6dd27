"""The browsable API's login and forms, and the admin, as a browser uses them (CSRF enforced)."""

import re
from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.posts.models import Post
from conftest import PASSWORD, login


def csrf_token_from(html: bytes) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1).decode()


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def test_browsable_api_login_form_create_post_and_logout(browser: Client, alice: User) -> None:
    page = browser.get("/api-auth/login/")
    assert page.status_code == 200
    logged_in = browser.post(
        "/api-auth/login/",
        {
            "username": "alice",
            "password": PASSWORD,
            "next": "/api/v1/",
            "csrfmiddlewaretoken": csrf_token_from(page.content),
        },
    )
    assert logged_in.status_code == 302
    assert logged_in["Location"] == "/api/v1/"

    listing = browser.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert listing.status_code == 200
    assert b"Post List Create" in listing.content
    created = browser.post(
        "/api/v1/",
        {
            "title": "From the form",
            "body": "Typed in the browsable API",
            "csrfmiddlewaretoken": csrf_token_from(listing.content),
        },
        HTTP_ACCEPT="text/html",
    )
    assert created.status_code == 201
    assert Post.objects.get().author == alice
    assert b"From the form" in browser.get("/api/v1/", HTTP_ACCEPT="text/html").content

    logout = browser.post(
        "/api-auth/logout/", {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    )
    assert logout.status_code in (200, 302)
    assert browser.get("/api/v1/").status_code == 401


def test_browsable_api_login_with_a_wrong_password_stays_logged_out(
    browser: Client, alice: User
) -> None:
    page = browser.get("/api-auth/login/")
    response = browser.post(
        "/api-auth/login/",
        {
            "username": "alice",
            "password": "wrong password",
            "csrfmiddlewaretoken": csrf_token_from(page.content),
        },
    )

    assert response.status_code == 200
    assert browser.get("/api/v1/").status_code == 401


def test_admin_lists_users_posts_and_tokens(
    user_factory: Callable[..., User], alice: User, client: Client
) -> None:
    admin = user_factory("root", is_staff=True, is_superuser=True)
    Post.objects.create(author=alice, title="Admin sees me", body="b")
    login(APIClient(), "alice")
    client.force_login(admin)

    for url in (
        "/admin/",
        "/admin/accounts/user/",
        "/admin/posts/post/",
        "/admin/accounts/devicetoken/",
        f"/admin/accounts/user/{alice.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    assert b"Admin sees me" in client.get("/admin/posts/post/").content


def test_admin_needs_a_staff_login(client: Client, alice: User) -> None:
    client.force_login(alice)

    response = client.get("/admin/posts/post/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
