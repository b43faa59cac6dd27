"""Passkey (WebAuthn) endpoints under /api/v1/dj-rest-auth/mfa/webauthn/ and reauthenticate/.

They carry the WebAuthn options and the browser's PublicKeyCredential as JSON (base64url fields,
as PublicKeyCredential.parseCreationOptionsFromJSON() and toJSON() speak them).
"""

from allauth.mfa.models import Authenticator
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blogapi.accounts.mfa_views import signed_in
from blogapi.accounts.permissions import IsRecentlyReauthenticated, ReauthenticationRequired
from blogapi.accounts.schema import (
    PASSKEY_CREATION_EXAMPLES,
    PASSKEY_LIST_EXAMPLES,
    PASSKEY_REQUEST_EXAMPLES,
    DetailSerializer,
    SignedInSerializer,
)
from blogapi.accounts.serializers import (
    PasskeyCreationOutputSerializer,
    PasskeyLoginInputSerializer,
    PasskeyLoginOptionsOutputSerializer,
    PasskeyOutputSerializer,
    PasskeyRegisterBeginInputSerializer,
    PasskeyRegisteredOutputSerializer,
    PasskeyRegisterInputSerializer,
    PasskeyRenameInputSerializer,
    PasskeyRequestOutputSerializer,
    PasskeySecondFactorInputSerializer,
    ReauthenticationRequiredSerializer,
)
from blogapi.accounts.services.reauth import (
    reauthenticated_recently,
    reauthentication_passkey_start,
)
from blogapi.accounts.services.webauthn import (
    passkey_delete,
    passkey_list,
    passkey_login_complete,
    passkey_login_start,
    passkey_register,
    passkey_registration_start,
    passkey_rename,
    passkey_second_factor_start,
)
from blogapi.accounts.views import signed_in_user
from blogapi.core.schema import READS_CREDENTIALS


class PasskeyListView(APIView):
    """The caller's passkeys: id, name, when added and last used, whether they sign in alone."""

    @extend_schema(
        responses={200: PasskeyOutputSerializer(many=True)}, examples=PASSKEY_LIST_EXAMPLES
    )
    def get(self, request: Request) -> Response:
        passkeys = passkey_list(user=signed_in_user(request))
        return Response(PasskeyOutputSerializer(passkeys, many=True).data)


class PasskeyRegisterBeginView(APIView):
    """Creation options for a new passkey (after a reauthentication)."""

    permission_classes = (permissions.IsAuthenticated, IsRecentlyReauthenticated)

    @extend_schema(
        request=PasskeyRegisterBeginInputSerializer,
        responses={200: PasskeyCreationOutputSerializer, 403: ReauthenticationRequiredSerializer},
        examples=PASSKEY_CREATION_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        serializer = PasskeyRegisterBeginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = passkey_registration_start(
            user=signed_in_user(request), passwordless=serializer.validated_data["passwordless"]
        )
        return Response(PasskeyCreationOutputSerializer(registration).data)


class PasskeyRegisterView(APIView):
    """Store the passkey the authenticator created; the first factor brings recovery codes."""

    permission_classes = (permissions.IsAuthenticated, IsRecentlyReauthenticated)

    @extend_schema(
        request=PasskeyRegisterInputSerializer,
        responses={201: PasskeyRegisteredOutputSerializer, 403: ReauthenticationRequiredSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PasskeyRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        passkey, codes = passkey_register(
            request=request, user=signed_in_user(request), **serializer.validated_data
        )
        answer = PasskeyRegisteredOutputSerializer({"passkey": passkey, "recovery_codes": codes})
        return Response(answer.data, status=201)


class PasskeyDetailView(APIView):
    """PATCH: rename a passkey. DELETE: remove it (after a reauthentication)."""

    @extend_schema(request=PasskeyRenameInputSerializer, responses={200: PasskeyOutputSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        serializer = PasskeyRenameInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            passkey = passkey_rename(
                user=signed_in_user(request), passkey_id=pk, name=serializer.validated_data["name"]
            )
        except Authenticator.DoesNotExist:
            raise exceptions.NotFound from None
        return Response(PasskeyOutputSerializer(passkey).data)

    @extend_schema(responses={204: None, 403: ReauthenticationRequiredSerializer})
    def delete(self, request: Request, pk: int) -> Response:
        if not reauthenticated_recently(request=request):
            raise ReauthenticationRequired
        try:
            passkey_delete(request=request, user=signed_in_user(request), passkey_id=pk)
        except Authenticator.DoesNotExist:
            raise exceptions.NotFound from None
        return Response(status=204)


class PasskeySecondFactorBeginView(APIView):
    """Request options for the second step of a login; then POST mfa/verify/ `credential`."""

    authentication_classes = ()  # the ephemeral token is the credential
    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        request=PasskeySecondFactorInputSerializer,
        responses={200: PasskeyRequestOutputSerializer},
        examples=PASSKEY_REQUEST_EXAMPLES,
        extensions={READS_CREDENTIALS: True},
    )
    def post(self, request: Request) -> Response:
        serializer = PasskeySecondFactorInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = passkey_second_factor_start(request=request, **serializer.validated_data)
        return Response({"request_options": options})


class PasskeyLoginBeginView(APIView):
    """Request options for a sign-in with a passkey alone (no password)."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        request=None,
        responses={200: PasskeyLoginOptionsOutputSerializer, 400: DetailSerializer},
        extensions={READS_CREDENTIALS: True},
    )
    def post(self, request: Request) -> Response:
        return Response(
            PasskeyLoginOptionsOutputSerializer(passkey_login_start(request=request)).data
        )


class PasskeyLoginView(APIView):
    """Sign in with a passkey alone; answers what a login answers (a key, or the JWT shape)."""

    authentication_classes = ()  # the passkey is the credential
    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        request=PasskeyLoginInputSerializer,
        responses={200: SignedInSerializer},
        extensions={READS_CREDENTIALS: True},
    )
    def post(self, request: Request) -> Response:
        serializer = PasskeyLoginInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = passkey_login_complete(
            request=request, login_token=data["login_token"], credential=data["credential"]
        )
        return signed_in(request, user, label=data.get("device") or None)


class ReauthenticatePasskeyBeginView(APIView):
    """Request options for the caller's passkeys; then POST reauthenticate/ `credential`."""

    @extend_schema(
        request=None,
        responses={200: PasskeyRequestOutputSerializer, 400: DetailSerializer},
        examples=PASSKEY_REQUEST_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        options = reauthentication_passkey_start(request=request, user=signed_in_user(request))
        return Response({"request_options": options})
