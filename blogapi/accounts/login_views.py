"""The HTML logins (browsable API, admin): password page, then a code page for a second factor."""

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME, login
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView

from blogapi.accounts.forms import AdminLoginForm, BrowsableApiLoginForm, LoginCodeForm
from blogapi.accounts.services.mfa import BAD_EPHEMERAL, INCORRECT_CODE, mfa_login_complete

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


@method_decorator([sensitive_post_parameters("code"), csrf_protect, never_cache], name="dispatch")
class LoginCodeView(FormView):
    """The code page: a right TOTP or recovery code signs the browser in; wrong ones are limited.

    The code is checked by the API's own flow (mfa_login_complete): the same login limits, the
    same single use of the ephemeral token and of each TOTP time step.
    """

    form_class = LoginCodeForm
    login_url: str

    def default_next(self) -> str:
        """Where a sign-in without a (safe) `next` goes."""
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        pending = request.session.get(PENDING_KEY)
        if not isinstance(pending, dict) or not isinstance(pending.get("token"), str):
            return self._back_to_login(None)
        self.pending = pending
        return super().dispatch(request, *args, **kwargs)

    def _back_to_login(self, next_url: str | None) -> HttpResponse:
        """Expired, spent or missing: start again from the password page, with a message."""
        self.request.session.pop(PENDING_KEY, None)
        messages.error(self.request, BAD_EPHEMERAL)
        url = reverse(self.login_url)
        if next_url:
            url += "?" + urlencode({REDIRECT_FIELD_NAME: next_url})
        return HttpResponseRedirect(url)

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
        try:
            attempt = mfa_login_complete(
                request=self.request,
                ephemeral_token=self.pending["token"],
                code=form.cleaned_data["code"],
            )
        except ValidationError as error:
            if "ephemeral_token" in error.message_dict:
                return self._back_to_login(self.pending.get("next"))
            # "Incorrect code.", or why TOTP codes cannot be checked (an unreadable secret).
            form.add_error("code", error.message_dict.get("code", [INCORRECT_CODE]))
            return self.form_invalid(form)
        self.request.session.pop(PENDING_KEY, None)
        login(self.request, attempt.user)
        return HttpResponseRedirect(self._next())


class BrowsableApiLoginCodeView(LoginCodeView):
    """/api-auth/login/code/: the browsable API's code page."""

    template_name = "accounts/login_code.html"
    login_url = "api-login"

    def default_next(self) -> str:
        return resolve_url(settings.LOGIN_REDIRECT_URL)


class AdminLoginCodeView(LoginCodeView):
    """/admin/login/code/: the admin's code page."""

    template_name = "accounts/admin_login_code.html"
    login_url = "admin:login"

    def default_next(self) -> str:
        return reverse("admin:index")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}
