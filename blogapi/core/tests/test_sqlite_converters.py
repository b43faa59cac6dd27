"""SQLite's stored datetimes parse to exactly Django's values through the faster converter."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from blogapi.core.db import Converter, faster_converters

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite only (the default pass of make test)"
)


def django_datetime_converter() -> Converter:
    ops: Any = connection.ops
    return ops.convert_datetimefield_value


def converters() -> tuple[Converter, Converter]:
    """Django's datetime converter and what faster_converters puts in its place."""
    django_converter = django_datetime_converter()
    (ours,) = faster_converters(connection, [django_converter])
    return django_converter, ours


@pytest.mark.parametrize(
    "stored",
    [
        "2026-11-28 00:21:44.256364",
        "2026-11-28 00:21:44",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59.999999",
        "2026-11-28T00:21:44.5+02:00",
        "2026-11-28 00:21:44Z",
        "2026-11-28",
        None,
    ],
)
def test_stored_values_convert_as_django_converts_them(stored: str | None) -> None:
    django_converter, ours = converters()

    assert ours is not django_converter
    expected = django_converter(stored, None, connection)
    got = ours(stored, None, connection)
    assert got == expected
    assert getattr(got, "tzinfo", None) == getattr(expected, "tzinfo", None)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 28, 0, 21, 44, 256364),
        datetime(2026, 11, 28, 0, 21, 44, tzinfo=UTC),
        "2026-11-28 00:21:44.256364",
    ],
)
def test_what_sqlite_gives_is_converted_without_django_s_converter(
    value: datetime | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    django_converter, ours = converters()
    expected = django_converter(value, None, connection)
    monkeypatch.setattr(connection.ops, "convert_datetimefield_value", pytest.fail, raising=False)

    assert ours(value, None, connection) == expected


@given(
    st.datetimes(
        timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-5, minutes=-30))])
    ),
    st.sampled_from([" ", "T"]),
)
def test_any_isoformat_converts_as_django_converts_it(moment: datetime, separator: str) -> None:
    django_converter, ours = converters()
    stored = moment.isoformat(sep=separator)

    assert ours(stored, None, connection) == django_converter(stored, None, connection)


def test_text_django_cannot_parse_is_left_to_django() -> None:
    django_converter, ours = converters()

    with pytest.raises((TypeError, AttributeError, ValueError)):
        django_converter("not a date", None, connection)
    with pytest.raises((TypeError, AttributeError, ValueError)):
        ours("not a date", None, connection)


@override_settings(USE_TZ=False)
def test_without_time_zones_django_keeps_its_converter() -> None:
    django_converter = django_datetime_converter()

    assert faster_converters(connection, [django_converter]) == [django_converter]
