"""Fixtures of the account tests: a frozen clock and alice with TOTP on."""

from collections.abc import Iterator

import pytest
import time_machine

from blogapi.accounts.models import User
from blogapi.accounts.tests.mfa import START, Clock, Enrolled, enroll


@pytest.fixture
def clock() -> Iterator[Clock]:
    with time_machine.travel(START, tick=False) as traveller:
        yield Clock(traveller, START)


@pytest.fixture
def enrolled(clock: Clock, alice: User) -> Enrolled:
    return enroll(clock, alice)
