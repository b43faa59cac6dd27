"""Post endpoints: list/create at /api/v1/, read/update/delete at /api/v1/<pk>/."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, permissions
from rest_framework.serializers import BaseSerializer

from blogapi.core.pagination import NewestFirstCursorPagination
from blogapi.posts.models import Post
from blogapi.posts.permissions import IsAuthorOrReadOnly
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
