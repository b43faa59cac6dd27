"""The account's own data: export it (dj-rest-auth/export/), delete it (dj-rest-auth/delete/)."""

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blogapi.accounts.jwt_cookies import jwt_cookies_clear
from blogapi.accounts.permissions import IsRecentlyReauthenticated
from blogapi.accounts.schema import (
    ACCOUNT_DELETE_EXAMPLES,
    ACCOUNT_DELETE_REFUSED,
    AccountExportSerializer,
)
from blogapi.accounts.serializers import (
    AccountDeleteInputSerializer,
    DeletionScheduledSerializer,
    ReauthenticationRequiredSerializer,
)
from blogapi.accounts.services.credentials import credential_in_use
from blogapi.accounts.services.deletion import account_deletion_request
from blogapi.accounts.services.export import account_export_start
from blogapi.accounts.views import signed_in_user
from blogapi.core import ratelimit

EXPORTS_PER_ACCOUNT = "account_export"


class AccountExportView(APIView):
    """Everything the account holds as one JSON file, streamed (after a reauthentication)."""

    permission_classes = (permissions.IsAuthenticated, IsRecentlyReauthenticated)
    # No HEAD: Django would build the whole export (and log it, and charge its limit) to drop it.
    http_method_names = ["get", "options"]

    @extend_schema(
        responses={
            200: OpenApiResponse(
                AccountExportSerializer,
                description=(
                    "Streamed as an attachment: the profile, addresses, credentials (no "
                    "secrets), second factors (types and dates only), activity and posts."
                ),
            ),
            403: ReauthenticationRequiredSerializer,
        }
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        user = signed_in_user(request)
        ratelimit.consume(EXPORTS_PER_ACCOUNT, str(user.pk))
        chunks = account_export_start(user=user, current=credential_in_use(request))
        filename = f"blogapi-account-{user.pk}-{timezone.now():%Y%m%d}.json"
        return StreamingHttpResponse(
            chunks,
            content_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


class AccountDeleteView(APIView):
    """Ask for the account's erasure: every credential ends now, the account after the grace."""

    @extend_schema(
        request=AccountDeleteInputSerializer,
        responses={202: DeletionScheduledSerializer, 400: ACCOUNT_DELETE_REFUSED},
        examples=ACCOUNT_DELETE_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        serializer = AccountDeleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scheduled = account_deletion_request(
            request=request, user=signed_in_user(request), **serializer.validated_data
        )
        answer = {
            "detail": (
                "Every sign-in of this account has ended. The account and all of its posts will "
                f"be erased on {scheduled.erase_at:%Y-%m-%d %H:%M} UTC; sign in again before then "
                "to cancel."
            ),
            "erase_at": scheduled.erase_at,
            "posts_deleted_with_account": True,
        }
        response = Response(
            DeletionScheduledSerializer(answer).data, status=status.HTTP_202_ACCEPTED
        )
        if settings.AUTH_JWT_COOKIES:
            jwt_cookies_clear(response)
        return response
