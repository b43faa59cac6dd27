"""Shared tables: rate-limit counters when no Redis is configured."""

from django.db import models


class RateLimitBucket(models.Model):
    """One counter window: `count` hits since the window opened, open until `expires_ms`."""

    bucket = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField()
    expires_ms = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"{self.bucket}: {self.count}"
