"""Cursor pagination: newest first, constant cost at any depth, no COUNT(*) over the table."""

from collections.abc import Callable
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
    example_next = "https://api.example.com/api/v1/?cursor=cD0yMDI2LTExLTI3KzE5JTNBMzY%3D"
    _model: type[Model] | None = None
    # Optional: `newest(n, request)` returns the first n rows in `ordering` without building a
    # queryset (a prepared query, blogapi.core.prepared); used for the first page, the most
    # requested.
    newest: Callable[[int, Request], list[Any]] | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        self._model = queryset.model
        if self.newest is not None and self.cursor_query_param not in request.query_params:
            return self._first_page(request, self.newest)
        return super().paginate_queryset(queryset, request, view)

    def _first_page(
        self, request: Request, newest: Callable[[int, Request], list[Any]]
    ) -> list[Any]:
        """DRF's paginate_queryset for a request without a cursor, the rows from `newest`.

        blogapi/posts/tests/test_first_page.py compares both paths.
        """
        self.request = request
        page_size = self.page_size = self.get_page_size(request)
        assert page_size is not None  # set on the class and capped: never None here
        self.base_url = request.build_absolute_uri()
        self.cursor = None
        results = newest(page_size + 1, request)
        self.page = results[:page_size]
        self.has_previous = False
        self.has_next = len(results) > len(self.page)
        if self.has_next:
            self.next_position = self._get_position_from_instance(results[-1], self.ordering)
        if self.has_next and self.template is not None:
            self.display_page_controls = True
        return self.page

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
