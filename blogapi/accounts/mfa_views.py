"""Two-factor sign-in endpoints under /api/v1/dj-rest-auth/mfa/ (dj-rest-auth 7.2's paths)."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blogapi.accounts.models import User
from blogapi.accounts.permissions import IsRecentlyReauthenticated
from blogapi.accounts.schema import DetailSerializer, SignedInSerializer
from blogapi.accounts.serializers import (
    MfaCodeInputSerializer,
    MfaStatusOutputSerializer,
    MfaVerifyInputSerializer,
    ReauthenticateInputSerializer,
    ReauthenticationRequiredSerializer,
    RecoveryCodesLeftSerializer,
    RecoveryCodesOutputSerializer,
    TotpActivateInputSerializer,
    TotpSetupOutputSerializer,
)
from blogapi.accounts.services.credentials import device_token_create
from blogapi.accounts.services.jwt_families import jwt_family_start
from blogapi.accounts.services.mfa import (
    mfa_login_complete,
    mfa_status_get,
    recovery_codes_regenerate,
    totp_activate,
    totp_deactivate,
    totp_setup_start,
)
from blogapi.accounts.services.reauth import reauthenticate
from blogapi.accounts.services.webauthn import passkey_second_factor_complete
from blogapi.accounts.views import jwt_answer, signed_in_user
from blogapi.core.schema import READS_CREDENTIALS


class MfaStatusView(APIView):
    """Which second factors the caller has."""

    @extend_schema(responses={200: MfaStatusOutputSerializer})
    def get(self, request: Request) -> Response:
        factors = mfa_status_get(user=signed_in_user(request))
        return Response(MfaStatusOutputSerializer(factors).data)


class TotpActivateView(APIView):
    """GET: a new secret and its QR code; POST: turn TOTP on with a code for that secret."""

    @extend_schema(responses={200: TotpSetupOutputSerializer, 400: DetailSerializer})
    def get(self, request: Request) -> Response:
        setup = totp_setup_start(user=signed_in_user(request))
        return Response(TotpSetupOutputSerializer(setup).data)

    @extend_schema(
        request=TotpActivateInputSerializer, responses={200: RecoveryCodesOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = TotpActivateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = signed_in_user(request)
        codes = totp_activate(request=request, user=user, **serializer.validated_data)
        return Response({"recovery_codes": codes})


class TotpDeactivateView(APIView):
    """Turn TOTP and the recovery codes off, with a current code, after a reauthentication."""

    permission_classes = (permissions.IsAuthenticated, IsRecentlyReauthenticated)

    @extend_schema(
        request=MfaCodeInputSerializer,
        responses={200: DetailSerializer, 403: ReauthenticationRequiredSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = MfaCodeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        totp_deactivate(request=request, user=signed_in_user(request), **serializer.validated_data)
        return Response({"detail": "Two-factor sign-in is off."})


class RecoveryCodesView(APIView):
    """How many recovery codes are left; never the codes again."""

    @extend_schema(responses={200: RecoveryCodesLeftSerializer})
    def get(self, request: Request) -> Response:
        left = mfa_status_get(user=signed_in_user(request)).recovery_codes_left
        return Response({"recovery_codes_left": left or 0})


class RecoveryCodesRegenerateView(APIView):
    """A new set of recovery codes, shown once; the old ones stop working (after a reauth)."""

    permission_classes = (permissions.IsAuthenticated, IsRecentlyReauthenticated)

    @extend_schema(
        request=None,
        responses={
            200: RecoveryCodesOutputSerializer,
            400: DetailSerializer,
            403: ReauthenticationRequiredSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        codes = recovery_codes_regenerate(request=request, user=signed_in_user(request))
        return Response({"recovery_codes": codes})


class MfaVerifyView(APIView):
    """The login's second step: the code for its ephemeral token; answers what the login would."""

    authentication_classes = ()  # the ephemeral token is the credential
    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        request=MfaVerifyInputSerializer,
        responses={200: SignedInSerializer},
        extensions={READS_CREDENTIALS: True},
    )
    def post(self, request: Request) -> Response:
        serializer = MfaVerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "credential" in data:
            attempt = passkey_second_factor_complete(
                request=request,
                ephemeral_token=data["ephemeral_token"],
                credential=data["credential"],
            )
        else:
            attempt = mfa_login_complete(
                request=request, ephemeral_token=data["ephemeral_token"], code=data["code"]
            )
        return signed_in(request, attempt.user, label=attempt.label or None)


def signed_in(request: Request, user: User, *, label: str | None) -> Response:
    """What a login answers: a new device key, or with AUTH_JWT the JWT shape (and cookies)."""
    if settings.AUTH_JWT:
        issued = jwt_family_start(user=user, request=request, label=label)
        return jwt_answer(request, issued, user=user)
    issued_token = device_token_create(user=user, request=request, label=label)
    return Response({"key": issued_token.key})


class ReauthenticateView(APIView):
    """Prove the owner again (password, code or passkey): the credential in use may do sensitive
    steps for 5 minutes; limited like a sign-in."""

    @extend_schema(request=ReauthenticateInputSerializer, responses={200: DetailSerializer})
    def post(self, request: Request) -> Response:
        serializer = ReauthenticateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reauthenticate(request=request, user=signed_in_user(request), **serializer.validated_data)
        return Response({"detail": "Reauthenticated for 5 minutes."})
