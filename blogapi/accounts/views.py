"""Account views: users (read-only), e-mail verification, and the pages e-mailed links open."""

from collections.abc import Mapping
from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.utils import complete_signup
from dj_rest_auth.app_settings import api_settings as rest_auth_settings
from dj_rest_auth.registration.views import RegisterView as BaseRegisterView
from dj_rest_auth.registration.views import ResendEmailVerificationView
from dj_rest_auth.views import LoginView as BaseLoginView
from dj_rest_auth.views import PasswordResetConfirmView as BasePasswordResetConfirmView
from dj_rest_auth.views import PasswordResetView as BasePasswordResetView
from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, permissions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blogapi.accounts.access_tokens import AccessTokenInvalid, access_token_verify
from blogapi.accounts.credential_cache import refresh_families
from blogapi.accounts.identifiers import username_taken
from blogapi.accounts.jwt_cookies import jwt_cookies_clear, jwt_cookies_set, refresh_cookie_name
from blogapi.accounts.models import User
from blogapi.accounts.schema import (
    ACTIVITY_LIST_EXAMPLES,
    CREDENTIAL_LIST_EXAMPLES,
    CSRF_TOKEN_EXAMPLES,
    EMAIL_ADDRESS_LIST_EXAMPLES,
    EMAIL_CHANGE_EXAMPLES,
    EMAIL_CHANGE_REFUSED,
    EMAIL_CHANGE_STARTED,
    LOGIN_EXAMPLES,
    PASSWORD_RESET_CONFIRM_EXAMPLES,
    PASSWORD_RESET_CONFIRM_REFUSED,
    PASSWORD_RESET_EXAMPLES,
    REGISTER_EXAMPLES,
    USER_LIST_EXAMPLES,
    CsrfTokenSerializer,
    DetailSerializer,
    RegisteredSerializer,
    SignedInSerializer,
)
from blogapi.accounts.serializers import (
    ActivityOutputSerializer,
    CredentialOutputSerializer,
    EmailAddressOutputSerializer,
    EmailChangeInputSerializer,
    JwtOutputSerializer,
    JwtRefreshedSerializer,
    JwtRefreshInputSerializer,
    JwtVerifyInputSerializer,
    MfaRequiredSerializer,
    PasswordResetConfirmSerializer,
    ResendEmailInputSerializer,
    UserOutputSerializer,
    VerifyEmailInputSerializer,
    email_verification_is_mandatory,
)
from blogapi.accounts.services.activity import activity_list_for_user
from blogapi.accounts.services.credentials import (
    credential_in_use,
    credential_list_for_user,
    credential_revoke,
    credentials_in_use_revoke,
    credentials_revoke_all,
    device_token_create,
)
from blogapi.accounts.services.email_change import (
    ADDRESS_TAKEN,
    email_address_list_for_user,
    email_change_start,
)
from blogapi.accounts.services.jwt_families import (
    IssuedJwt,
    RefreshRefused,
    jwt_family_start,
    jwt_refresh,
)
from blogapi.accounts.services.mfa import mfa_enabled, mfa_login_start, mfa_methods
from blogapi.accounts.services.password import BAD_LINK_FIELD, password_reset_confirm
from blogapi.accounts.services.signup import (
    account_exists_notice_send,
    email_address_confirm,
    email_confirmation_resend,
    user_signup_complete,
)
from blogapi.core import ratelimit
from blogapi.core.pagination import NewestFirstCursorPagination, OldestIdFirstCursorPagination
from blogapi.core.schema import READS_CREDENTIALS


def _from_html_form(request: HttpRequest) -> bool:
    """A browser form (the browsable API), as opposed to a JSON client."""
    return (
        str(request.content_type)
        .lower()
        .startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    )


def jwt_answer(
    request: Request, issued: IssuedJwt, *, user: User | None = None, status_code: int = 200
) -> Response:
    """dj-rest-auth's JWT shape (`user` after a login); the tokens also as cookies if enabled."""
    data: dict[str, Any] = {
        "access": issued.access,
        "refresh": issued.refresh,
        "access_expiration": issued.access_expiration,
        "refresh_expiration": issued.refresh_expiration,
    }
    if settings.AUTH_JWT_COOKIES:
        del data["refresh"]  # only in its cookie, out of reach of scripts
    shape: type[JwtRefreshedSerializer] = JwtRefreshedSerializer
    if user is not None:
        data["user"], shape = user, JwtOutputSerializer
    response = Response(shape(data, context={"request": request}).data, status=status_code)
    if settings.AUTH_JWT_COOKIES:
        jwt_cookies_set(response, request, issued=issued)
    return response


def signed_in_user(request: HttpRequest) -> User:
    """The caller of a view that IsAuthenticated (or a view's own check) let through."""
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated ran first
    return user


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
    issued_jwt: IssuedJwt | None = None

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            with transaction.atomic():
                response = super().create(request, *args, **kwargs)
        except IntegrityError:
            # A simultaneous registration took the username or address between check and insert.
            return self._lost_race_response(request)
        if self.issued_jwt is not None and settings.AUTH_JWT_COOKIES:
            jwt_cookies_set(response, request, issued=self.issued_jwt)
        return response

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
        if not email_verification_is_mandatory() and settings.AUTH_JWT:
            self.issued_jwt = jwt_family_start(user=user, request=self.request)
        elif not email_verification_is_mandatory():
            self.issued_key = device_token_create(user=user, request=self.request).key
        if _from_html_form(self.request):
            # The browsable API's form: allauth signs the browser in, as in the book.
            complete_signup(self.request, user, allauth_settings.EMAIL_VERIFICATION, None)
        else:
            user_signup_complete(request=self.request, user=user)
        return user

    def get_response_data(self, user: User | None) -> dict[str, Any]:
        if self.issued_jwt is not None:
            answer = jwt_answer(self.request, self.issued_jwt, user=user)
            return dict(answer.data or {})
        if self.issued_key is None:
            return {"detail": "Verification e-mail sent."}
        return {"key": self.issued_key}


@extend_schema_view(
    post=extend_schema(
        responses={
            200: PolymorphicProxySerializer(
                component_name="LoginAnswer",
                serializers=[SignedInSerializer, MfaRequiredSerializer],
                resource_type_field_name=None,
            )
        },
        examples=LOGIN_EXAMPLES,
    )
)
class LoginView(HtmlFormCsrfMixin, BaseLoginView):
    """dj-rest-auth's login; only a login from an HTML form (browsable API) also opens a session.

    A JSON login (apps, scripts) gets its token and nothing else: no orphan session per phone login.
    With AUTH_JWT it starts a refresh family and answers dj-rest-auth's JWT shape instead.
    """

    issued: IssuedJwt | None = None

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A user with a second factor gets an ephemeral token for mfa/verify/, no credential."""
        self.request = request
        self.serializer = self.get_serializer(data=request.data)
        self.serializer.is_valid(raise_exception=True)
        user = self.serializer.validated_data["user"]
        if mfa_enabled(user):
            token = mfa_login_start(user=user, label=self.serializer.validated_data.get("device"))
            return Response(
                {"mfa_required": True, "ephemeral_token": token, "methods": mfa_methods(user)}
            )
        self.login()
        return self.get_response()

    def process_login(self) -> None:
        if _from_html_form(self.request):
            super().process_login()

    def login(self) -> None:
        if not settings.AUTH_JWT:
            super().login()
            return
        self.user = self.serializer.validated_data["user"]
        device = self.serializer.validated_data.get("device")
        self.issued = jwt_family_start(user=self.user, request=self.request, label=device)
        if rest_auth_settings.SESSION_LOGIN:
            self.process_login()

    def get_response(self) -> Response:
        if self.issued is None:
            return super().get_response()
        return jwt_answer(self.request, self.issued, user=self.user)


class JwtRefreshView(APIView):
    """Spend a refresh token for a new access token and the family's next refresh token."""

    authentication_classes = ()  # the refresh token is the credential
    permission_classes = (permissions.AllowAny,)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    @extend_schema(
        request=JwtRefreshInputSerializer,
        responses={200: JwtRefreshedSerializer},
        extensions={READS_CREDENTIALS: True},
    )
    def post(self, request: Request) -> Response:
        serializer = JwtRefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refresh = serializer.validated_data.get("refresh")
        if refresh is None and settings.AUTH_JWT_COOKIES:
            refresh = request.COOKIES.get(refresh_cookie_name())
            if refresh:
                # A cookie rides along on requests other sites trigger: the CSRF check first.
                SessionAuthentication().enforce_csrf(request)
        if not refresh:
            raise exceptions.ValidationError({"refresh": ["This field is required."]})
        try:
            issued = jwt_refresh(refresh=refresh, request=request)
        except RefreshRefused as refused:
            ratelimit.consume_for_ip("token_failures_ip", request)
            raise exceptions.AuthenticationFailed(str(refused), code="token_not_valid") from None
        return jwt_answer(request, issued)


class JwtVerifyView(APIView):
    """200 for an access token that would authenticate now (signature, expiry, live family)."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    @extend_schema(
        request=JwtVerifyInputSerializer,
        responses={200: DetailSerializer},
        extensions={READS_CREDENTIALS: True},
    )
    def post(self, request: Request) -> Response:
        serializer = JwtVerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            claims = access_token_verify(serializer.validated_data["token"])
        except AccessTokenInvalid:
            claims = None
        family = refresh_families.lookup(str(claims.family_id)) if claims else None
        if (
            claims is None
            or family is None
            or family.user_id != claims.user_id
            or not family.user.is_active
            or family.is_expired(timezone.now())
        ):
            ratelimit.consume_for_ip("token_failures_ip", request)
            raise exceptions.AuthenticationFailed(
                "Token is invalid or expired.", code="token_not_valid"
            )
        return Response({"detail": "Token is valid."})


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
        response = Response({"detail": "Successfully logged out."})
        if settings.AUTH_JWT_COOKIES:
            jwt_cookies_clear(response)
        return response


class LogoutAllView(APIView):
    """End every token and every browser session of the caller, this one included."""

    @extend_schema(request=None, responses={200: DetailSerializer})
    def post(self, request: Request) -> Response:
        credentials_revoke_all(user=signed_in_user(request))
        logout(request)
        response = Response({"detail": "Successfully logged out of every device."})
        if settings.AUTH_JWT_COOKIES:
            jwt_cookies_clear(response)
        return response


class CredentialListView(APIView):
    """Every way the caller is signed in: device tokens and browser sessions, never a secret."""

    @extend_schema(
        responses={200: CredentialOutputSerializer(many=True)}, examples=CREDENTIAL_LIST_EXAMPLES
    )
    def get(self, request: Request) -> Response:
        credentials = credential_list_for_user(
            user=signed_in_user(request),
            current=credential_in_use(request),
        )
        return Response(CredentialOutputSerializer(credentials, many=True).data)


@extend_schema_view(get=extend_schema(examples=ACTIVITY_LIST_EXAMPLES))
class ActivityListView(generics.ListAPIView):
    """The caller's own security activity feed, newest first (cursor pages)."""

    serializer_class = ActivityOutputSerializer
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self) -> Any:
        return activity_list_for_user(user=signed_in_user(self.request))


class CredentialRevokeView(APIView):
    """Revoke one of the caller's own tokens or sessions; any other id answers 404."""

    @extend_schema(responses={204: None, 404: DetailSerializer})
    def delete(self, request: Request, credential_id: str) -> Response:
        if not credential_revoke(
            user=signed_in_user(request),
            credential_id=credential_id,
        ):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailAddressView(APIView):
    """GET: the caller's addresses; POST: start a change of address (confirmed by mail)."""

    @extend_schema(
        responses={200: EmailAddressOutputSerializer(many=True)},
        examples=EMAIL_ADDRESS_LIST_EXAMPLES,
    )
    def get(self, request: Request) -> Response:
        addresses = email_address_list_for_user(user=signed_in_user(request))
        return Response(EmailAddressOutputSerializer(addresses, many=True).data)

    @extend_schema(
        request=EmailChangeInputSerializer,
        responses={200: DetailSerializer, 400: EMAIL_CHANGE_REFUSED},
        examples=EMAIL_CHANGE_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        serializer = EmailChangeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email_change_start(
            request=request,
            user=signed_in_user(request),
            **serializer.validated_data,
        )
        return Response({"detail": EMAIL_CHANGE_STARTED})


class VerifyEmailView(APIView):
    """Confirm an e-mail address with the key from the confirmation e-mail (single use)."""

    permission_classes = (permissions.AllowAny,)
    rate_limit_scope = "verify_email_ip"

    @extend_schema(
        request=VerifyEmailInputSerializer,
        responses={200: DetailSerializer},
        description=(
            "Confirms a registration's address, or completes a change of address: the new "
            "address becomes the account's, the old one is removed, and every other credential "
            "of the user is revoked (all of them when the request is not signed in as the user)."
        ),
    )
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
        except ValidationError as error:
            # A key that works but whose address was taken meanwhile says so; others stay generic.
            message = ADDRESS_TAKEN if ADDRESS_TAKEN in error.messages else ""
            context = {"state": "invalid", "message": message}
            return render(request, self.template_name, context, status=400)
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
