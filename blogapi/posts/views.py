"""Post endpoints: list/create at /api/v1/, read/update/delete at /api/v1/<pk>/."""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, permissions
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

from blogapi.core.pagination import NewestFirstCursorPagination
from blogapi.posts.models import Post
from blogapi.posts.permissions import IsAuthorOrReadOnly
from blogapi.posts.schema import POST_LIST_EXAMPLES, POST_WRITE_EXAMPLES
from blogapi.posts.selectors import (
    newest_posts,
    post_by_id,
    post_list,
    read_newest_posts_ahead,
    read_post_by_id_ahead,
)
from blogapi.posts.serializers import PostSerializer


class PostPagination(NewestFirstCursorPagination):
    """The list's pages; the first one comes from a prepared query."""

    newest = staticmethod(newest_posts)


# What the two reads below share: the rows a GET shows are the same for every signed-in user, so
# they can be asked for before authentication and travel with the token lookup in one round trip
# (blogapi.core.prepared.read_ahead; ~12 % of a read's throughput on PostgreSQL,
# docs/benchmarks.md). DRF still runs the handler, the only reader of the rows, after
# authentication and permissions passed.
_READS = ("GET", "HEAD")


@extend_schema_view(
    get=extend_schema(examples=POST_LIST_EXAMPLES),
    post=extend_schema(examples=POST_WRITE_EXAMPLES),
)
class PostListCreateView(generics.ListCreateAPIView):
    """Signed-in users list posts (newest first, paginated) and create posts as themselves."""

    serializer_class = PostSerializer
    pagination_class = PostPagination
    permission_classes = (permissions.IsAuthenticated,)
    # Built once; DRF clones it per request (cheaper than building it again).
    queryset = post_list()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        paginator = self.paginator
        if (
            request.method in _READS
            and isinstance(paginator, PostPagination)
            and paginator.cursor_query_param not in request.query_params
        ):
            page_size = paginator.get_page_size(request)
            if page_size:
                read_newest_posts_ahead(request, page_size + 1)  # what the first page reads
        super().initial(request, *args, **kwargs)

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
    queryset = post_list()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method in _READS:
            read_post_by_id_ahead(request, self.kwargs["pk"])
        super().initial(request, *args, **kwargs)

    def get_object(self) -> Post:
        # DRF's get_object (404, then object permissions) with the prepared lookup by id.
        post = post_by_id(self.kwargs["pk"], request=self.request)
        if post is None:
            raise Http404("No Post matches the given query.")  # DRF's get_object wording
        self.check_object_permissions(self.request, post)
        return post
