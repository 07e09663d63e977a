"""The accounts app's one table of its own: rate-limit counters for setups without a shared cache.

Users, groups, tokens and sessions are Django's and DRF's own models."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """Requests counted in one fixed window of one limit (see accounts.ratelimit).

    Used when no shared cache is configured: every gunicorn worker (and every instance on a
    shared DATABASE_URL) increments the same row with one `UPDATE ... SET count = count + 1`,
    which the database applies atomically, unlike a per-process memory cache."""

    key = models.CharField(max_length=200, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "rate-limit counter"

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
