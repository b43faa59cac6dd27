"""Probes for load balancers and orchestrators: public, cheap, JSON, never cached.

DRF views only so that the OpenAPI schema describes them like every other endpoint (and a POST
answers a JSON 405 with `Allow`): no authentication, permission, throttle or session work, and
the client's Accept header is ignored, so a probe can never be refused with 406.
"""

import logging
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blogapi.core.tasks import TaskQueueState, task_queue_state

logger = logging.getLogger(__name__)


class AlwaysJSON(BaseContentNegotiation):
    """JSON whatever the request's Accept header says (DRF would answer 406 to `text/html`)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


@method_decorator(never_cache, name="dispatch")
class ProbeView(APIView):
    """A public GET/HEAD view that never authenticates, throttles or reads a session."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = AlwaysJSON
    http_method_names = ["get", "head"]


_Ok = inline_serializer("HealthOk", {"status": serializers.ChoiceField(choices=["ok"])})
_OK_EXAMPLE = OpenApiExample("Up", value={"status": "ok"}, response_only=True, status_codes=[200])
_Tasks = inline_serializer(
    "TaskQueue",
    {
        "depth": serializers.IntegerField(min_value=0, help_text="Tasks due and not yet started."),
        "oldest_age_seconds": serializers.FloatField(
            allow_null=True, help_text="How long the oldest due task has waited; null if none."
        ),
        "stuck": serializers.BooleanField(
            help_text="The oldest due task has waited longer than TASKS_STUCK_AFTER: no worker "
            "is taking tasks (or too few)."
        ),
    },
)
_Ready = inline_serializer(
    "ReadyOk", {"status": serializers.ChoiceField(choices=["ok"]), "tasks": _Tasks}
)
_READY_EXAMPLE = OpenApiExample(
    "Up",
    value={"status": "ok", "tasks": {"depth": 0, "oldest_age_seconds": None, "stuck": False}},
    response_only=True,
    status_codes=[200],
)


class HealthzView(ProbeView):
    @extend_schema(
        tags=["health"],
        summary="Liveness",
        responses={200: _Ok},
        examples=[_OK_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        """Liveness: the process answers. Touches no database, cache or session."""
        return Response({"status": "ok"})


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


_Unavailable = inline_serializer(
    "HealthUnavailable",
    {
        "status": serializers.ChoiceField(choices=["unavailable"]),
        "failed": serializers.ListField(
            child=serializers.ChoiceField(choices=["database", "cache"]), min_length=1
        ),
    },
)


class ReadyzView(ProbeView):
    @extend_schema(
        tags=["health"],
        summary="Readiness",
        responses={
            200: _Ready,
            503: OpenApiResponse(_Unavailable, description="Names the services that failed."),
        },
        examples=[
            _READY_EXAMPLE,
            OpenApiExample(
                "Cache down",
                value={"status": "unavailable", "failed": ["cache"]},
                response_only=True,
                status_codes=[503],
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        """Readiness: the database and the cache answer; else 503 naming the ones that failed.

        With the task queue's state: a stuck queue is reported (and logged), not a 503, since
        this web process still serves; taking every web process out of the load balancer
        because the worker is down would turn late mail into a full outage.
        """
        checks = {"database": _database_is_reachable, "cache": _cache_is_reachable}
        failed = [name for name, is_reachable in checks.items() if not is_reachable()]
        if failed:
            return Response({"status": "unavailable", "failed": failed}, status=503)
        queue = task_queue_state(now=timezone.now(), stuck_after=settings.TASKS_STUCK_AFTER)
        if queue.stuck:
            logger.warning("readiness: task queue stuck", extra=_queue_fields(queue))
        return Response({"status": "ok", "tasks": _queue_fields(queue)})


def _queue_fields(queue: TaskQueueState) -> dict[str, object]:
    return {
        "depth": queue.depth,
        "oldest_age_seconds": queue.oldest_age_seconds,
        "stuck": queue.stuck,
    }
