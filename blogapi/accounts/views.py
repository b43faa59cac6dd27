"""Account views: users (read-only), e-mail verification, and the pages e-mailed links open."""

from typing import Any

from dj_rest_auth.app_settings import api_settings as rest_auth_settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from blogapi.accounts.models import User
from blogapi.accounts.serializers import UserOutputSerializer, VerifyEmailInputSerializer
from blogapi.accounts.services.email_address_confirm import email_address_confirm
from blogapi.core.pagination import OldestIdFirstCursorPagination

_DetailSerializer = inline_serializer("Detail", {"detail": serializers.CharField()})


class UserListView(generics.ListAPIView):
    """Every user's public profile (id, username); signed-in callers only, read-only."""

    queryset = User.objects.order_by("id").only("id", "username")
    serializer_class = UserOutputSerializer
    pagination_class = OldestIdFirstCursorPagination


class UserDetailView(generics.RetrieveAPIView):
    """One user's public profile; read-only (the book's viewset let anyone edit anyone)."""

    queryset = User.objects.only("id", "username")
    serializer_class = UserOutputSerializer


class VerifyEmailView(APIView):
    """Confirm an e-mail address with the key from the confirmation e-mail (single use)."""

    permission_classes = (permissions.AllowAny,)

    @extend_schema(
        request=VerifyEmailInputSerializer,
        responses={200: _DetailSerializer, 400: _DetailSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = VerifyEmailInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if email_address_confirm(request=request, key=serializer.validated_data["key"]) is None:
            return Response(
                {"detail": "This confirmation key is invalid, expired or already used."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"detail": "ok"})


@method_decorator(never_cache, name="dispatch")
class EmailConfirmPageView(View):
    """The page a mailed confirmation link opens: GET shows a button, only POST confirms."""

    template_name = "accounts/confirm_email.html"

    def get(self, request: HttpRequest, key: str) -> HttpResponse:
        return render(request, self.template_name, {"state": "ask"})

    def post(self, request: HttpRequest, key: str) -> HttpResponse:
        if email_address_confirm(request=request, key=key) is None:
            return render(request, self.template_name, {"state": "invalid"}, status=400)
        return render(request, self.template_name, {"state": "done"})


@method_decorator(never_cache, name="dispatch")
class PasswordResetPageView(View):
    """The page a mailed reset link opens: GET shows the form, POST sets the password once."""

    template_name = "accounts/password_reset.html"

    def get(self, request: HttpRequest, uid: str, token: str) -> HttpResponse:
        return render(request, self.template_name, {"state": "ask"})

    def post(self, request: HttpRequest, uid: str, token: str) -> HttpResponse:
        # The same serializer as POST /api/v1/dj-rest-auth/password/reset/confirm/: one flow.
        data: dict[str, Any] = {
            "uid": uid,
            "token": token,
            "new_password1": request.POST.get("new_password1", ""),
            "new_password2": request.POST.get("new_password2", ""),
        }
        serializer = rest_auth_settings.PASSWORD_RESET_CONFIRM_SERIALIZER(
            data=data, context={"request": request}
        )
        if not serializer.is_valid():
            errors = serializer.errors
            state = "invalid" if ("uid" in errors or "token" in errors) else "ask"
            return render(
                request, self.template_name, {"state": state, "errors": errors}, status=400
            )
        serializer.save()
        return render(request, self.template_name, {"state": "done"})
