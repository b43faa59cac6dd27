"""Account policies: sensitive steps need a recent reauthentication of the credential in use."""

from typing import Any

from rest_framework import exceptions, permissions, status
from rest_framework.request import Request

from blogapi.accounts.services.reauth import reauthenticated_recently

REAUTHENTICATION_REQUIRED = "reauthentication_required"


class ReauthenticationRequired(exceptions.APIException):
    """403 `{"detail", "code": "reauthentication_required"}`: POST reauthenticate/ first."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = REAUTHENTICATION_REQUIRED

    def __init__(self) -> None:
        super().__init__(
            {
                "detail": "Confirm it is you first: POST /api/v1/dj-rest-auth/reauthenticate/.",
                "code": REAUTHENTICATION_REQUIRED,
            }
        )


class IsRecentlyReauthenticated(permissions.BasePermission):
    """The credential in use proved its owner again (password or code) in the last 5 minutes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not reauthenticated_recently(request=request):
            raise ReauthenticationRequired
        return True
