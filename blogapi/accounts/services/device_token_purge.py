"""Delete expired token rows (authentication refuses them already; this only frees space)."""

from django.utils import timezone

from blogapi.accounts.models import DeviceToken


def device_token_purge_expired() -> int:
    """Delete tokens past their absolute or idle expiry; return how many were deleted."""
    deleted, _ = DeviceToken.objects.expired(timezone.now()).delete()
    return deleted
