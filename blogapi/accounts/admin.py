"""Admin for users, their device tokens and JWT sign-ins (no secret is ever stored or shown)."""

from allauth.usersessions.models import UserSession
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from blogapi.accounts.models import DeviceToken, RefreshFamily, User
from blogapi.accounts.services.credentials import credentials_revoke_all


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
    actions = ("revoke_all_credentials",)

    @admin.action(description="Revoke all tokens and sessions of the selected users")
    def revoke_all_credentials(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            credentials_revoke_all(user=user)
        self.message_user(
            request, f"Revoked every credential of {queryset.count()} user(s).", messages.SUCCESS
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
