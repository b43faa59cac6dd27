"""Each account flow's mail is enqueued inside the transaction of the change it announces."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.db import transaction
from django_tasks.signals import task_enqueued
from rest_framework.test import APIClient

from blogapi.accounts.models import User
from blogapi.accounts.services.mfa import mfa_factors_remove
from blogapi.accounts.tests.mfa import Enrolled
from blogapi.core.tests.tasks import MAIL_TASK, TASK_BACKEND, ready
from conftest import PASSWORD

NEW_PASSWORD = "another horse battery staple"

# Without a test transaction around each test, so that one is open only where a flow opens it.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def enqueued_in_a_transaction(settings: Any) -> Iterator[list[bool]]:
    """For each mail task enqueued: whether a transaction was open around it."""
    settings.EMAIL_BACKEND = TASK_BACKEND
    seen: list[bool] = []

    def record(sender: Any, task_result: Any, **kwargs: Any) -> None:
        if task_result.task.module_path == MAIL_TASK:
            seen.append(transaction.get_connection().in_atomic_block)

    task_enqueued.connect(record)
    try:
        yield seen
    finally:
        task_enqueued.disconnect(record)


def test_staff_removing_two_factor_queues_the_notice_inside_the_removal(
    enrolled: Enrolled, user_factory: Callable[..., User], enqueued_in_a_transaction: list[bool]
) -> None:
    staff = user_factory("root", is_staff=True, is_superuser=True)

    assert mfa_factors_remove(user=enrolled.user, by_staff=staff)

    assert enqueued_in_a_transaction == [True]
    assert ready()[0].args_kwargs["args"][1]["to"] == ["alice@example.com"]


def test_a_password_change_queues_its_notice_inside_the_change(
    alice_client: APIClient, enqueued_in_a_transaction: list[bool]
) -> None:
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD}
    response = alice_client.post(
        "/api/v1/dj-rest-auth/password/change/", {**data, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 200
    assert enqueued_in_a_transaction == [True]


def test_a_registration_queues_its_confirmation_inside_the_sign_up(
    api_client: APIClient, enqueued_in_a_transaction: list[bool]
) -> None:
    body = {"username": "carol", "email": "carol@example.com"}
    body |= {"password1": PASSWORD, "password2": PASSWORD}

    assert (
        api_client.post("/api/v1/dj-rest-auth/registration/", body, format="json").status_code
        == 201
    )
    assert enqueued_in_a_transaction == [True]


def test_an_email_change_queues_its_link_and_notice_inside_the_start(
    alice_client: APIClient, enqueued_in_a_transaction: list[bool]
) -> None:
    response = alice_client.post(
        "/api/v1/dj-rest-auth/email/", {"email": "alice@new.example.org", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert enqueued_in_a_transaction == [True, True]


def test_confirming_an_email_change_queues_both_notices_inside_the_switch(
    alice_client: APIClient, settings: Any
) -> None:
    alice_client.post(
        "/api/v1/dj-rest-auth/email/", {"email": "alice@new.example.org", "password": PASSWORD}
    )
    pending = EmailAddress.objects.get(email="alice@new.example.org")
    key = EmailConfirmationHMAC(pending).key
    seen: list[bool] = []

    def record(sender: Any, task_result: Any, **kwargs: Any) -> None:
        if task_result.task.module_path == MAIL_TASK:
            seen.append(transaction.get_connection().in_atomic_block)

    settings.EMAIL_BACKEND = TASK_BACKEND
    task_enqueued.connect(record)
    try:
        response = APIClient().post(
            "/api/v1/dj-rest-auth/registration/verify-email/", {"key": key}, format="json"
        )
    finally:
        task_enqueued.disconnect(record)

    assert response.status_code == 200
    assert seen == [True, True]  # the notices to the old and the new address


def test_a_deletion_request_and_its_cancelling_sign_in_queue_their_notices_inside(
    alice_client: APIClient, enqueued_in_a_transaction: list[bool]
) -> None:
    response = alice_client.post("/api/v1/dj-rest-auth/delete/", {"password": PASSWORD})
    assert response.status_code == 202
    assert enqueued_in_a_transaction == [True]

    login = APIClient().post(
        "/api/v1/dj-rest-auth/login/", {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert login.status_code == 200
    assert enqueued_in_a_transaction == [True, True]
