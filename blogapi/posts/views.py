"""Post endpoints: list/create at /api/v1/, read/update/delete at /api/v1/<pk>/."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from blogapi.core.pagination import NewestFirstCursorPagination
from blogapi.posts.models import Post
from blogapi.posts.permissions import IsAuthorOrReadOnly
from blogapi.posts.read_cache import cached_read
from blogapi.posts.schema import POST_LIST_EXAMPLES, POST_WRITE_EXAMPLES
from blogapi.posts.selectors import post_list
from blogapi.posts.serializers import PostSerializer


@extend_schema_view(
    get=extend_schema(examples=POST_LIST_EXAMPLES),
    post=extend_schema(examples=POST_WRITE_EXAMPLES),
)
class PostListCreateView(generics.ListCreateAPIView):
    """Signed-in users list posts (newest first, paginated) and create posts as themselves."""

    serializer_class = PostSerializer
    pagination_class = NewestFirstCursorPagination
    permission_classes = (permissions.IsAuthenticated,)

    def get_queryset(self) -> QuerySet[Post]:
        return post_list()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The same page for every signed-in caller: one cached answer serves them all.
        return cached_read(
            request, lambda: super(PostListCreateView, self).list(request, *args, **kwargs)
        )

    def perform_create(self, serializer: BaseSerializer[Post]) -> None:
        serializer.save(author=self.request.user)


@extend_schema_view(
    put=extend_schema(examples=POST_WRITE_EXAMPLES),
    patch=extend_schema(examples=POST_WRITE_EXAMPLES),
)
class PostDetailView(generics.RetrieveUpdateDestroyAPIView):
    """Signed-in users read a post; only its author updates or deletes it."""

    serializer_class = PostSerializer
    permission_classes = (permissions.IsAuthenticated, IsAuthorOrReadOnly)

    def get_queryset(self) -> QuerySet[Post]:
        return post_list()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # IsAuthorOrReadOnly lets every signed-in caller read any post: one cached answer each.
        return cached_read(
            request, lambda: super(PostDetailView, self).retrieve(request, *args, **kwargs)
        )
