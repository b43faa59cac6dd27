"""Cursor pagination: newest first, constant cost at any depth, no COUNT(*) over the table."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Field, Model, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


class NewestFirstCursorPagination(CursorPagination):
    """`page_size` rows a page (default 20, max 100), newest first; `next`/`previous` are opaque."""

    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 100
    _model: type[Model] | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        """DRF's decoding, plus a position check: a forged one would reach the database raw."""
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None or self._model is None:
            return cursor
        field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        assert isinstance(field, Field)
        try:
            if "\x00" in str(cursor.position):
                raise ValidationError("NUL")
            field.to_python(cursor.position)
        except (ValidationError, ValueError, TypeError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor


class OldestIdFirstCursorPagination(NewestFirstCursorPagination):
    """Same contract, ordered by ascending id, for tables without a creation timestamp."""

    ordering = ("id",)
