"""Security headers Django's SecurityMiddleware does not set: no caching of auth responses.

The Content-Security-Policy is django-csp's middleware, configured by CONTENT_SECURITY_POLICY in
settings.py (why a library there, not code here: see that setting).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

# Login pages, tokens, user details, password-reset links: nothing under these may be stored
# by a browser or shared proxy cache, where the next user of the machine could read it back.
AUTH_PATH_PREFIXES = ("/api/v1/dj-rest-auth/", "/api-auth/", "/admin/login/")


class NoStoreAuthResponsesMiddleware:
    """`Cache-Control: no-store` (Django's never-cache set) on every response of an auth path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(AUTH_PATH_PREFIXES):
            add_never_cache_headers(response)
        return response
