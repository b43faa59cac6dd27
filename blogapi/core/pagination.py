"""Cursor pagination: newest first, constant cost at any depth, no COUNT(*) over the table."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Field, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


class NewestFirstCursorPagination(CursorPagination):
    """`page_size` rows a page (default 20, max 100), newest first; `next`/`previous` are opaque."""

    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 100
    example_next = "https://api.example.com/api/v1/?cursor=cD0yMDI2LTExLTI3KzE5JTNBMzY%3D"
    # The ordering's first field, of the model being paginated: decode_cursor checks positions.
    ordering_field: Field | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        field = queryset.model._meta.get_field(self.ordering[0].lstrip("-"))
        assert isinstance(field, Field)
        self.ordering_field = field
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        """DRF's decoding, plus a position check: a forged one would reach the database raw."""
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None or self.ordering_field is None:
            return cursor
        try:
            if "\x00" in str(cursor.position):
                raise ValidationError("NUL")
            self.ordering_field.to_python(cursor.position)
        except (ValidationError, ValueError, TypeError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """DRF's two query parameters, described as they behave (DRF's words are generic)."""
        descriptions = {
            self.cursor_query_param: "Opaque, from `next` or `previous`; a forged one answers 404.",
            self.page_size_query_param: (
                f"Rows per page, 1 to {self.max_page_size} (more gives {self.max_page_size}); "
                f"default {self.page_size}, also for any other value."
            ),
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["description"] = descriptions[parameter["name"]]
        return parameters

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """DRF's page shape, with `next` and `previous` always present and this API's URLs."""
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = ["next", "previous", "results"]
        links = paginated["properties"]
        links["next"]["example"] = self.example_next
        links["previous"]["example"] = None
        return paginated


class OldestIdFirstCursorPagination(NewestFirstCursorPagination):
    """Same contract, ordered by ascending id, for tables without a creation timestamp."""

    ordering = ("id",)
    example_next = "https://api.example.com/api/v1/users/?cursor=cD0yMA%3D%3D"
