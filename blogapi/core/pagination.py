"""Cursor pagination: newest first, constant cost at any depth, no COUNT(*) over the table."""

from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """`page_size` rows a page (default 20, max 100), newest first; `next`/`previous` are opaque."""

    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 100


class OldestIdFirstCursorPagination(NewestFirstCursorPagination):
    """Same contract, ordered by ascending id, for tables without a creation timestamp."""

    ordering = ("id",)
