"""The benchmark's reference: the cheapest JSON answer this stack can give (BENCHMARK_ENDPOINTS)."""

from django.http import HttpRequest, JsonResponse


def ceiling(request: HttpRequest) -> JsonResponse:
    """A plain Django view behind the same middleware: no DRF, no authentication, no query."""
    return JsonResponse({"status": "ok"})
