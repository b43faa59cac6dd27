"""Probes for load balancers and orchestrators: public, cheap, JSON, never cached."""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no database, cache or session."""
    return JsonResponse({"status": "ok"})


def _database_is_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        # The class only: a driver's message may quote connection settings.
        logger.warning("readiness: database unreachable", extra={"error": type(error).__name__})
        return False
    return True


def _cache_is_reachable() -> bool:
    # A key per probe: concurrent probes from other workers cannot overwrite each other's value.
    key = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "ok", timeout=10)
        reachable = cache.get(key) == "ok"
    except Exception as error:
        logger.warning("readiness: cache unreachable", extra={"error": type(error).__name__})
        return False
    if not reachable:
        logger.warning("readiness: cache lost a value it was just given")
    return reachable


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the cache answer; otherwise 503 naming the ones that failed."""
    checks = {"database": _database_is_reachable, "cache": _cache_is_reachable}
    failed = [name for name, is_reachable in checks.items() if not is_reachable()]
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    return JsonResponse({"status": "ok"})
