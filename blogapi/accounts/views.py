"""Account views: users (read-only), e-mail verification, and the pages e-mailed links open."""

from collections.abc import Mapping
from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.utils import complete_signup
from dj_rest_auth.registration.views import RegisterView as BaseRegisterView
from dj_rest_auth.registration.views import ResendEmailVerificationView
from dj_rest_auth.views import LoginView as BaseLoginView
from dj_rest_auth.views import PasswordResetConfirmView as BasePasswordResetConfirmView
from dj_rest_auth.views import PasswordResetView as BasePasswordResetView
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, permissions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blogapi.accounts.identifiers import username_taken
from blogapi.accounts.models import User
from blogapi.accounts.schema import (
    CREDENTIAL_LIST_EXAMPLES,
    CSRF_TOKEN_EXAMPLES,
    LOGIN_EXAMPLES,
    PASSWORD_RESET_CONFIRM_EXAMPLES,
    PASSWORD_RESET_CONFIRM_REFUSED,
    PASSWORD_RESET_EXAMPLES,
    REGISTER_EXAMPLES,
    USER_LIST_EXAMPLES,
    CsrfTokenSerializer,
    DetailSerializer,
    RegisteredSerializer,
)
from blogapi.accounts.serializers import (
    CredentialOutputSerializer,
    PasswordResetConfirmSerializer,
    ResendEmailInputSerializer,
    TokenOutputSerializer,
    UserOutputSerializer,
    VerifyEmailInputSerializer,
    email_verification_is_mandatory,
)
from blogapi.accounts.services.credentials import (
    credential_in_use,
    credential_list_for_user,
    credential_revoke,
    credentials_in_use_revoke,
    credentials_revoke_all,
    device_token_create,
)
from blogapi.accounts.services.password import BAD_LINK_FIELD, password_reset_confirm
from blogapi.accounts.services.signup import (
    account_exists_notice_send,
    email_address_confirm,
    email_confirmation_resend,
    user_signup_complete,
)
from blogapi.core import ratelimit
from blogapi.core.pagination import OldestIdFirstCursorPagination


def _from_html_form(request: HttpRequest) -> bool:
    """A browser form (the browsable API), as opposed to a JSON client."""
    return (
        str(request.content_type)
        .lower()
        .startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    )


class HtmlFormCsrfMixin:
    """An HTML-form request, the only kind that signs a browser in, must pass Django's CSRF check.

    DRF exempts its views from CsrfViewMiddleware and checks CSRF only for a session that is
    already signed in, so any site could otherwise post this form and sign its visitor's browser
    into the attacker's account (login CSRF). The check is DRF's own (SessionAuthentication's
    documented enforce_csrf: Origin/Referer against CSRF_TRUSTED_ORIGINS, then the token), run
    before any password is checked or account created. JSON requests open no session: unchanged.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if _from_html_form(request):
            SessionAuthentication().enforce_csrf(request)


@extend_schema_view(get=extend_schema(examples=USER_LIST_EXAMPLES))
class UserListView(generics.ListAPIView):
    """Every user's public profile (id, username); signed-in callers only, read-only."""

    queryset = User.objects.order_by("id").only("id", "username")
    serializer_class = UserOutputSerializer
    pagination_class = OldestIdFirstCursorPagination


class UserDetailView(generics.RetrieveAPIView):
    """One user's public profile; read-only (the book's viewset let anyone edit anyone)."""

    queryset = User.objects.only("id", "username")
    serializer_class = UserOutputSerializer


@extend_schema_view(
    post=extend_schema(responses={201: RegisteredSerializer}, examples=REGISTER_EXAMPLES)
)
class RegisterView(HtmlFormCsrfMixin, BaseRegisterView):
    """dj-rest-auth's registration: a new per-device token (201); atomic and race-safe.

    With mandatory verification a taken address gets the same answer as a new one (its owner is
    mailed instead), so registration reveals no accounts.
    """

    rate_limit_scope = "signup_ip"
    issued_key: str | None = None

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            with transaction.atomic():
                return super().create(request, *args, **kwargs)
        except IntegrityError:
            # A simultaneous registration took the username or address between check and insert.
            return self._lost_race_response(request)

    def _lost_race_response(self, request: Request) -> Response:
        username = str(request.data.get("username", ""))
        if username_taken(username):
            error = {"username": ["A user with that username already exists."]}
            return Response(error, status=status.HTTP_400_BAD_REQUEST)
        if email_verification_is_mandatory():
            return Response(self.get_response_data(None), status=status.HTTP_201_CREATED)
        error = {"email": ["A user is already registered with this e-mail address."]}
        return Response(error, status=status.HTTP_400_BAD_REQUEST)

    def perform_create(self, serializer: Any) -> User | None:
        if serializer.email_taken:
            account_exists_notice_send(
                request=self.request,
                email=serializer.validated_data["email"],
                password=serializer.validated_data["password1"],
            )
            return None
        user: User = serializer.save(self.request)
        if not email_verification_is_mandatory():
            self.issued_key = device_token_create(user=user, request=self.request).key
        if _from_html_form(self.request):
            # The browsable API's form: allauth signs the browser in, as in the book.
            complete_signup(self.request, user, allauth_settings.EMAIL_VERIFICATION, None)
        else:
            user_signup_complete(request=self.request, user=user)
        return user

    def get_response_data(self, user: User | None) -> dict[str, Any]:
        if self.issued_key is None:
            return {"detail": "Verification e-mail sent."}
        return {"key": self.issued_key}


@extend_schema_view(
    post=extend_schema(responses={200: TokenOutputSerializer}, examples=LOGIN_EXAMPLES)
)
class LoginView(HtmlFormCsrfMixin, BaseLoginView):
    """dj-rest-auth's login; only a login from an HTML form (browsable API) also opens a session.

    A JSON login (apps, scripts) gets its token and nothing else: no orphan session per phone login.
    """

    def process_login(self) -> None:
        if _from_html_form(self.request):
            super().process_login()


class ResendEmailView(ResendEmailVerificationView):
    """dj-rest-auth's resend, limited per IP and per address; the same answer for any address."""

    rate_limit_scope = "resend_email_ip"
    serializer_class = ResendEmailInputSerializer

    @extend_schema(responses={200: DetailSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.create(request, *args, **kwargs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email_confirmation_resend(request=request, email=serializer.validated_data["email"])
        return Response({"detail": "ok"})


@extend_schema_view(
    post=extend_schema(responses={200: DetailSerializer}, examples=PASSWORD_RESET_EXAMPLES)
)
class PasswordResetView(BasePasswordResetView):
    """dj-rest-auth's reset request, limited per IP (and per address, in the form)."""

    rate_limit_scope = "password_reset_ip"


@extend_schema_view(
    post=extend_schema(
        responses={200: DetailSerializer, 400: PASSWORD_RESET_CONFIRM_REFUSED},
        examples=PASSWORD_RESET_CONFIRM_EXAMPLES,
    )
)
class PasswordResetConfirmView(BasePasswordResetConfirmView):
    """dj-rest-auth's reset confirm, limited per IP; links work once; one answer for bad ones."""

    rate_limit_scope = "password_reset_confirm_ip"


class CsrfTokenView(APIView):
    """The CSRF token (and its cookie) a front-end sends with its form login or signup."""

    permission_classes = (permissions.AllowAny,)

    @extend_schema(responses={200: CsrfTokenSerializer}, examples=CSRF_TOKEN_EXAMPLES)
    def get(self, request: Request) -> Response:
        # Only a CORS-allowed origin may read this answer; others are stopped anyway by the
        # Origin check that comes first.
        return Response({"csrf_token": get_token(request)})


class LogoutView(APIView):
    """End the token and the browser session this request uses; other devices stay signed in."""

    permission_classes = (permissions.AllowAny,)

    @extend_schema(request=None, responses={200: DetailSerializer})
    def post(self, request: Request) -> Response:
        credentials_in_use_revoke(request=request)
        return Response({"detail": "Successfully logged out."})


class LogoutAllView(APIView):
    """End every token and every browser session of the caller, this one included."""

    @extend_schema(request=None, responses={200: DetailSerializer})
    def post(self, request: Request) -> Response:
        credentials_revoke_all(user=request.user)  # type: ignore[arg-type]
        logout(request)
        return Response({"detail": "Successfully logged out of every device."})


class CredentialListView(APIView):
    """Every way the caller is signed in: device tokens and browser sessions, never a secret."""

    @extend_schema(
        responses={200: CredentialOutputSerializer(many=True)}, examples=CREDENTIAL_LIST_EXAMPLES
    )
    def get(self, request: Request) -> Response:
        credentials = credential_list_for_user(
            user=request.user,  # type: ignore[arg-type]
            current=credential_in_use(request),
        )
        return Response(CredentialOutputSerializer(credentials, many=True).data)


class CredentialRevokeView(APIView):
    """Revoke one of the caller's own tokens or sessions; any other id answers 404."""

    @extend_schema(responses={204: None, 404: DetailSerializer})
    def delete(self, request: Request, credential_id: str) -> Response:
        if not credential_revoke(
            user=request.user,  # type: ignore[arg-type]
            credential_id=credential_id,
        ):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyEmailView(APIView):
    """Confirm an e-mail address with the key from the confirmation e-mail (single use)."""

    permission_classes = (permissions.AllowAny,)
    rate_limit_scope = "verify_email_ip"

    @extend_schema(request=VerifyEmailInputSerializer, responses={200: DetailSerializer})
    def post(self, request: Request) -> Response:
        serializer = VerifyEmailInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email_address_confirm(request=request, key=serializer.validated_data["key"])
        return Response({"detail": "ok"})


@method_decorator(never_cache, name="dispatch")
class EmailConfirmPageView(View):
    """The page a mailed confirmation link opens: GET shows a button, only POST confirms."""

    template_name = "accounts/confirm_email.html"

    def get(self, request: HttpRequest, key: str) -> HttpResponse:
        return render(request, self.template_name, {"state": "ask"})

    def post(self, request: HttpRequest, key: str) -> HttpResponse:
        ratelimit.consume_for_ip("verify_email_ip", request)
        try:
            email_address_confirm(request=request, key=key)
        except ValidationError:
            return render(request, self.template_name, {"state": "invalid"}, status=400)
        return render(request, self.template_name, {"state": "done"})


@method_decorator(never_cache, name="dispatch")
class PasswordResetPageView(View):
    """The page a mailed reset link opens: GET shows the form, POST sets the password once."""

    template_name = "accounts/password_reset.html"

    def get(self, request: HttpRequest, uid: str, token: str) -> HttpResponse:
        return render(request, self.template_name, {"state": "ask"})

    def post(self, request: HttpRequest, uid: str, token: str) -> HttpResponse:
        ratelimit.consume_for_ip("password_reset_confirm_ip", request)
        # The shapes and the flow of POST /api/v1/dj-rest-auth/password/reset/confirm/.
        serializer = PasswordResetConfirmSerializer(
            data={
                "uid": uid,
                "token": token,
                "new_password1": request.POST.get("new_password1", ""),
                "new_password2": request.POST.get("new_password2", ""),
            }
        )
        if not serializer.is_valid():
            return self._refused(request, serializer.errors)
        try:
            password_reset_confirm(request=request, **serializer.validated_data)
        except ValidationError as error:
            return self._refused(request, error.message_dict)
        return render(request, self.template_name, {"state": "done"})

    def _refused(self, request: HttpRequest, errors: Mapping[str, Any]) -> HttpResponse:
        state = "invalid" if BAD_LINK_FIELD in errors else "ask"
        return render(request, self.template_name, {"state": state, "errors": errors}, status=400)
