"""The app's routes plus /bench/ceiling/, the reference every benchmark figure is divided by."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from blogapi.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def ceiling(request: HttpRequest) -> JsonResponse:
    """The cheapest JSON answer this stack gives: the same middleware, no DRF, no query."""
    return JsonResponse({"status": "ok"})


urlpatterns = [*urlpatterns, path("bench/ceiling/", ceiling, name="bench-ceiling")]
