"""Admin for users, their device tokens and JWT sign-ins (no secret is ever stored or shown),
and every account's security activity feed, read-only.

Also the admin's own "change password" page, with the old password under the login limits.
"""

from typing import Any

from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse, reverse_lazy
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_variables

from blogapi.accounts.forms import StockAdminLoginForm
from blogapi.accounts.models import (
    AccountActivityRecord,
    AccountDeletion,
    DeviceToken,
    RefreshFamily,
    User,
)
from blogapi.accounts.services.credentials import credentials_revoke_all
from blogapi.accounts.services.mfa import mfa_factors_remove
from blogapi.accounts.services.password import password_check


class DeviceTokenInline(admin.TabularInline):
    """Tokens by label and dates; deleting one here revokes it."""

    model = DeviceToken
    fields = ("label", "created_at", "last_used_at", "expires_at", "last_ip", "user_agent")
    readonly_fields = fields
    extra = 0
    can_delete = True
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RefreshFamilyInline(DeviceTokenInline):
    """JWT sign-ins (refresh families); deleting one here ends it and its access tokens."""

    model = RefreshFamily  # type: ignore[assignment]
    verbose_name = "JWT sign-in"


class UserSessionInline(admin.TabularInline):
    """Browser sessions, without the session key (it is the cookie's secret)."""

    model = UserSession
    fields = ("created_at", "last_seen_at", "ip", "user_agent")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = (DeviceTokenInline, RefreshFamilyInline, UserSessionInline)
    actions = ("revoke_all_credentials", "remove_mfa")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Security", {"fields": ("security_activity",)}))
    readonly_fields = ("security_activity",)

    @admin.display(description="Security activity")
    def security_activity(self, user: User) -> str:
        """A link to the user's rows of the activity feed (its own read-only admin)."""
        url = reverse("admin:accounts_accountactivityrecord_changelist")
        return format_html(
            '<a href="{}?user__id__exact={}">Sign-ins, failures, changes</a>', url, user.pk
        )

    @admin.action(
        description="Revoke all tokens and sessions of the selected users", permissions=("change",)
    )
    def revoke_all_credentials(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            credentials_revoke_all(user=user)
        self.message_user(
            request, f"Revoked every credential of {queryset.count()} user(s).", messages.SUCCESS
        )

    # Needs the change permission: a view-only staff member may list users, not strip their MFA.
    @admin.action(description="Remove two-factor authentication", permissions=("change",))
    def remove_mfa(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        staff = request.user
        assert isinstance(staff, User)  # the admin only serves signed-in staff
        removed = sum(mfa_factors_remove(user=user, by_staff=staff) for user in queryset)
        self.message_user(
            request,
            f"Removed two-factor authentication of {removed} user(s); their credentials ended.",
            messages.SUCCESS,
        )


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "label", "created_at", "last_used_at", "expires_at", "last_ip")
    list_select_related = ("user",)
    search_fields = ("user__username", "label")
    fields = ("user", "label", "created_at", "last_used_at", "expires_at", "last_ip", "user_agent")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RefreshFamily)
class RefreshFamilyAdmin(DeviceTokenAdmin):
    """JWT sign-ins: `last used` is the last refresh; the refresh token's digest is not shown."""


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records staff may read but never add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccountActivityRecord)
class AccountActivityAdmin(ReadOnlyAdmin):
    """Any user's security activity, read-only: no add, change or delete (the feed is
    append-only; AUTH_ACTIVITY_RETENTION and `purge_activity` bound it). Filter by user with
    the search box or `?user__id__exact=<id>`."""

    list_display = ("created_at", "user", "event", "count", "ip", "device", "actor")
    list_select_related = ("user",)
    list_filter = ("event", "actor")
    search_fields = ("user__username",)
    fields = (
        "user",
        "event",
        "created_at",
        "window_start",
        "count",
        "ip",
        "user_agent",
        "device",
        "actor",
        "actor_user_id",
        "details",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # no COUNT(*) over a large table on every page


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnlyAdmin):
    """Accounts their owners asked to erase, and when; read-only (only a sign-in cancels one)."""

    list_display = ("user", "requested_at", "erase_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    ordering = ("erase_at",)
    fields = list_display
    readonly_fields = fields


class RateLimitedPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's own-password form; the old password is checked as a login is (429 past a limit).

    Django's form calls user.check_password with no limit: a stolen staff session could guess
    the password it does not know at hashing speed.
    """

    def __init__(self, user: User, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    @sensitive_variables("old_password")
    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        if not password_check(
            request=self.request,
            user=self.user,
            password=old_password,
            where="admin_password_change",
        ):
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class AdminPasswordChangeView(PasswordChangeView):
    """What AdminSite.password_change serves (Django's view, the admin's template and context),
    with the rate-limited form; routed ahead of the admin's URLs in blogapi/urls.py."""

    form_class = RateLimitedPasswordChangeForm
    success_url = reverse_lazy("admin:password_change_done")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        request.current_app = admin.site.name
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}


# allauth.mfa's own ModelAdmin shows the `data` column: the TOTP secret in clear.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(ReadOnlyAdmin):
    """A user's second factors, read-only and never their secrets (allauth's shows `data`).

    No delete here: a raw delete would skip the revocation, event and notice; staff use the
    users' "Remove two-factor authentication" action (services.mfa.mfa_factors_remove).
    """

    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    fields = ("user", "type", "created_at", "last_used_at")
    readonly_fields = fields


# AdminSite.login_form (documented): the site's own login view has no code step, so it refuses a
# password alone for a user with MFA; /admin/login/ is routed to AdminLoginView, which has one.
admin.site.login_form = StockAdminLoginForm
