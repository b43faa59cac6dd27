"""DRF throttles backed by the shared atomic counters."""

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from blogapi.core import ratelimit

if TYPE_CHECKING:  # rest_framework.views imports the throttle settings: no runtime import here
    from rest_framework.views import APIView


class ClientIPRateThrottle(BaseThrottle):
    """Charges the view's `rate_limit_scope` per client IP; 429 with Retry-After when spent."""

    def allow_request(self, request: Request, view: "APIView") -> bool:
        scope = getattr(view, "rate_limit_scope", None)
        if scope is not None:
            ratelimit.consume_for_ip(scope, request)
        return True
