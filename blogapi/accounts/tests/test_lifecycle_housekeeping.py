"""The task worker runs the lifecycle purges itself: erasures past their grace, old activity."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from blogapi.accounts.models import AccountActivity, User
from blogapi.core.tests.tasks import run_worker
from conftest import PASSWORD, login

# The worker closes connections between tasks, as a request does (see core/tests/test_mail_tasks).
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_erases_an_account_once_its_grace_has_passed(
    alice_client: APIClient, settings: Any, time_machine: Any
) -> None:
    response = alice_client.post("/api/v1/dj-rest-auth/delete/", {"password": PASSWORD})
    assert response.status_code == 202
    asked = timezone.now()

    time_machine.move_to(asked + settings.AUTH_DELETION_GRACE - timedelta(hours=2), tick=False)
    run_worker("worker")
    assert User.objects.filter(username="alice").exists()

    time_machine.move_to(asked + settings.AUTH_DELETION_GRACE + timedelta(hours=2), tick=False)
    run_worker("worker")
    assert not User.objects.filter(username="alice").exists()


def test_the_worker_drops_activity_older_than_the_retention(
    alice: User, settings: Any, time_machine: Any
) -> None:
    login(APIClient(), "alice")
    first = AccountActivity.objects.filter(user=alice).count()
    assert first > 0

    time_machine.move_to(timezone.now() + settings.AUTH_ACTIVITY_RETENTION / 2, tick=False)
    login(APIClient(), "alice")
    run_worker("worker")
    assert AccountActivity.objects.filter(user=alice).count() > first

    time_machine.move_to(
        timezone.now() + settings.AUTH_ACTIVITY_RETENTION / 2 + timedelta(days=1), tick=False
    )
    run_worker("worker")
    assert 0 < AccountActivity.objects.filter(user=alice).count() < 2 * first + 1
    oldest = AccountActivity.objects.filter(user=alice).order_by("created_at").first()
    assert oldest is not None
    assert oldest.created_at > timezone.now() - settings.AUTH_ACTIVITY_RETENTION
