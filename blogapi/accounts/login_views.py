"""The HTML logins (browsable API, admin): password page, then a code (or passkey) page for a
second factor."""

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME, login
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, View

from blogapi.accounts.forms import AdminLoginForm, BrowsableApiLoginForm, LoginCodeForm
from blogapi.accounts.services.mfa import (
    BAD_EPHEMERAL,
    INCORRECT_CODE,
    mfa_login_complete,
    mfa_login_methods,
)
from blogapi.accounts.services.webauthn import (
    passkey_second_factor_complete,
    passkey_second_factor_start,
)

# The pending code step lives in the (anonymous) session, server-side: the browser never holds
# the ephemeral token, and the session key changes at login() (Django's session fixation guard).
PENDING_KEY = "blogapi_mfa_login"


class CodeStepLoginMixin:
    """A right password for a user with a second factor leads to the code page, not to login()."""

    code_url: str

    def form_valid(self, form: Any) -> HttpResponse:
        token = form.ephemeral_token
        if token is None:
            return super().form_valid(form)  # type: ignore[misc]
        request: HttpRequest = self.request  # type: ignore[attr-defined]
        # LoginView.get_redirect_url() answers `next` only when it is on an allowed host.
        request.session[PENDING_KEY] = {"token": token, "next": self.get_redirect_url()}  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse(self.code_url))


class BrowsableApiLoginView(CodeStepLoginMixin, LoginView):
    """/api-auth/login/: DRF's login page, with the code step for a user with a second factor."""

    template_name = "rest_framework/login.html"
    authentication_form = BrowsableApiLoginForm
    code_url = "api-login-code"


class AdminLoginView(CodeStepLoginMixin, LoginView):
    """/admin/login/: what AdminSite.login does, with the code step for a user with a second factor.

    AdminSite.login builds its LoginView internally; this is the same view with the admin's
    public context (each_context), so the code step can come between password and login().
    """

    template_name = "admin/login.html"
    authentication_form = AdminLoginForm

    def get_default_redirect_url(self) -> str:
        return reverse("admin:index")

    code_url = "admin-login-code"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "GET" and admin.site.has_permission(request):
            return redirect("admin:index")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = {
            **admin.site.each_context(self.request),
            **super().get_context_data(**kwargs),
            "title": "Log in",
            "subtitle": None,
            "app_path": self.request.get_full_path(),
            "username": self.request.user.get_username(),
        }
        if not context.get(REDIRECT_FIELD_NAME):
            context[REDIRECT_FIELD_NAME] = reverse("admin:index")
        return context


def pending_sign_in(request: HttpRequest) -> dict[str, Any] | None:
    """The session's sign-in waiting for its second step (its ephemeral token and `next`)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("token"), str):
        return None
    return pending


def sign_in_again(request: HttpRequest, login_url: str, next_url: str | None) -> str:
    """Expired, spent or missing: the step is dropped and the password page (with a message and
    `next`) is where to start again."""
    request.session.pop(PENDING_KEY, None)
    messages.error(request, BAD_EPHEMERAL)
    url = reverse(login_url)
    if next_url:
        url += "?" + urlencode({REDIRECT_FIELD_NAME: next_url})
    return url


@method_decorator(
    [sensitive_post_parameters("code", "credential"), csrf_protect, never_cache], name="dispatch"
)
class LoginCodeView(FormView):
    """The code page: a right TOTP or recovery code, or a passkey, signs the browser in; wrong
    ones are limited.

    Both are checked by the API's own flows (mfa_login_complete, and for a passkey
    passkey_second_factor_complete as mfa/verify/ with `credential`): the same login limits, the
    same single use of the ephemeral token, of each TOTP time step and of each passkey challenge.
    """

    form_class = LoginCodeForm
    login_url: str
    passkey_options_url: str

    def default_next(self) -> str:
        """Where a sign-in without a (safe) `next` goes."""
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        pending = pending_sign_in(request)
        if pending is None:
            return self._back_to_login(None)
        self.pending = pending
        return super().dispatch(request, *args, **kwargs)

    def _back_to_login(self, next_url: str | None) -> HttpResponse:
        return HttpResponseRedirect(sign_in_again(self.request, self.login_url, next_url))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        methods = mfa_login_methods(ephemeral_token=self.pending["token"])
        return {
            **super().get_context_data(**kwargs),
            "totp": "totp" in methods,
            # The button only where the ceremony can succeed: a passkey, and passkeys configured.
            "passkey": "webauthn" in methods and bool(settings.AUTH_WEBAUTHN_RP_ID),
            "passkey_options_url": reverse(self.passkey_options_url),
        }

    def _next(self) -> str:
        next_url = self.pending.get("next")
        if isinstance(next_url, str) and url_has_allowed_host_and_scheme(
            next_url,
            allowed_hosts={self.request.get_host()},
            require_https=self.request.is_secure(),
        ):
            return next_url
        return self.default_next()

    def form_valid(self, form: LoginCodeForm) -> HttpResponse:
        credential = form.cleaned_data["credential"]
        field = "code" if credential is None else "credential"
        try:
            if credential is None:
                attempt = mfa_login_complete(
                    request=self.request,
                    ephemeral_token=self.pending["token"],
                    code=form.cleaned_data["code"],
                )
            else:
                attempt = passkey_second_factor_complete(
                    request=self.request,
                    ephemeral_token=self.pending["token"],
                    credential=credential,
                )
        except ValidationError as error:
            errors = error.message_dict if hasattr(error, "error_dict") else {}
            if "ephemeral_token" in errors:
                return self._back_to_login(self.pending.get("next"))
            # "Incorrect code.", why TOTP codes cannot be checked (an unreadable secret), why
            # the passkey's answer was refused, or that passkeys are not configured.
            form.add_error(field, errors.get(field) or error.messages or [INCORRECT_CODE])
            return self.form_invalid(form)
        self.request.session.pop(PENDING_KEY, None)
        login(self.request, attempt.user)
        return HttpResponseRedirect(self._next())


class BrowsableApiLoginCodeView(LoginCodeView):
    """/api-auth/login/code/: the browsable API's code page."""

    template_name = "accounts/login_code.html"
    login_url = "api-login"
    passkey_options_url = "api-login-code-passkey"

    def default_next(self) -> str:
        return resolve_url(settings.LOGIN_REDIRECT_URL)


class AdminLoginCodeView(LoginCodeView):
    """/admin/login/code/: the admin's code page."""

    template_name = "accounts/admin_login_code.html"
    login_url = "admin:login"
    passkey_options_url = "admin-login-code-passkey"

    def default_next(self) -> str:
        return reverse("admin:index")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}


@method_decorator([csrf_protect, never_cache], name="dispatch")
class LoginPasskeyOptionsView(View):
    """POST (the code page's script): request options for the passkeys of the session's pending
    sign-in, their challenge bound to its ephemeral token as mfa/webauthn/authenticate/ binds it.

    JSON either way: `{"request_options"}`, or 400 `{"detail", "code"}` (with `login_url` when
    the sign-in has to start again).
    """

    http_method_names = ["post"]
    login_url: str

    def post(self, request: HttpRequest) -> JsonResponse:
        pending = pending_sign_in(request)
        if pending is None:
            return self._sign_in_again(None)
        try:
            options = passkey_second_factor_start(request=request, ephemeral_token=pending["token"])
        except ValidationError as error:
            if hasattr(error, "error_dict") and "ephemeral_token" in error.error_dict:
                return self._sign_in_again(pending.get("next"))
            # No passkey (any more), or passkeys not configured on this server.
            detail = " ".join(error.messages)
            return JsonResponse({"detail": detail, "code": "passkey_unavailable"}, status=400)
        return JsonResponse({"request_options": options})

    def _sign_in_again(self, next_url: str | None) -> JsonResponse:
        login_url = sign_in_again(self.request, self.login_url, next_url)
        return JsonResponse(
            {"detail": BAD_EPHEMERAL, "code": "sign_in_expired", "login_url": login_url},
            status=400,
        )


class BrowsableApiLoginPasskeyView(LoginPasskeyOptionsView):
    """/api-auth/login/code/passkey/: passkey options for the browsable API's code page."""

    login_url = "api-login"


class AdminLoginPasskeyView(LoginPasskeyOptionsView):
    """/admin/login/code/passkey/: passkey options for the admin's code page."""

    login_url = "admin:login"
