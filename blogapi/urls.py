"""Project routes: health probes, the API under /api/v1/, browsable-API login, admin, schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from blogapi.accounts.admin import AdminPasswordChangeView
from blogapi.accounts.login_views import (
    AdminLoginCodeView,
    AdminLoginPasskeyView,
    AdminLoginView,
    BrowsableApiLoginCodeView,
    BrowsableApiLoginPasskeyView,
    BrowsableApiLoginView,
)
from blogapi.core import health

urlpatterns = [
    path("healthz", health.HealthzView.as_view(), name="healthz"),
    path("readyz", health.ReadyzView.as_view(), name="readyz"),
    # Ahead of the admin's own route: its "change password" page, old password rate-limited.
    path("admin/password_change/", admin.site.admin_view(AdminPasswordChangeView.as_view())),
    # Ahead of the admin's own routes: its login page, then a code page for a second factor.
    path("admin/login/", AdminLoginView.as_view(), name="admin-login"),
    path("admin/login/code/", AdminLoginCodeView.as_view(), name="admin-login-code"),
    # The code page's script asks here for the options of the pending sign-in's passkeys.
    path(
        "admin/login/code/passkey/",
        AdminLoginPasskeyView.as_view(),
        name="admin-login-code-passkey",
    ),
    path("admin/", admin.site.urls),
    # Ahead of DRF's own login route: the same page, then a code page for a second factor.
    path("api-auth/login/", BrowsableApiLoginView.as_view(), name="api-login"),
    path("api-auth/login/code/", BrowsableApiLoginCodeView.as_view(), name="api-login-code"),
    path(
        "api-auth/login/code/passkey/",
        BrowsableApiLoginPasskeyView.as_view(),
        name="api-login-code-passkey",
    ),
    path("api-auth/", include("rest_framework.urls")),
    # Account routes first: `users/` and our e-mail pages must never fall to the post routes.
    path("api/v1/", include("blogapi.accounts.urls")),
    path("api/v1/dj-rest-auth/registration/", include("dj_rest_auth.registration.urls")),
    path("api/v1/dj-rest-auth/", include("dj_rest_auth.urls")),
    path("api/v1/", include("blogapi.posts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file (`?script=`), not inline, so the
    # page runs under `script-src 'self'` (CONTENT_SECURITY_POLICY).
    path(
        "api/schema/swagger-ui/",
        SpectacularSwaggerSplitView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
    path(
        "api/schema/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="docs/redoc.html"),
        name="redoc",
    ),
]

handler400 = "blogapi.core.exceptions.json_bad_request"
handler403 = "blogapi.core.exceptions.json_permission_denied"
handler404 = "blogapi.core.exceptions.json_not_found"
handler500 = "blogapi.core.exceptions.json_server_error"
