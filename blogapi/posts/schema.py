"""OpenAPI examples for the post endpoints (attached by the decorators in views.py)."""

from drf_spectacular.utils import OpenApiExample

_POST = {
    "id": 1,
    "author": {"id": 1, "username": "alice"},
    "title": "Hello",
    "body": "My first post",
    "created_at": "2026-11-27T19:36:47.246398Z",
    "updated_at": "2026-11-27T19:36:47.246445Z",
}

POST_LIST_EXAMPLES = [
    OpenApiExample(
        "First page",
        summary="Newest first; follow `next` for older posts",
        # One post: drf-spectacular wraps it in the paginator's page shape.
        value=_POST,
        response_only=True,
        status_codes=[200],
    ),
]

POST_WRITE_EXAMPLES = [
    OpenApiExample("A post", value={"title": "Hello", "body": "My first post"}, request_only=True),
    OpenApiExample("Created", value=_POST, response_only=True, status_codes=[200, 201]),
]
