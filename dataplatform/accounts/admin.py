"""User administration at /admin/: Django's UserAdmin with the role groups in the list and
(de)activation as bulk actions; DRF's authtoken admin handles tokens. Every change made
through the admin is logged as one line (who, what, which object, the request id)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from dataplatform.accounts.roles import ROLES

logger = logging.getLogger("dataplatform.accounts.admin")

ACTION_NAMES = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


@receiver(post_save, sender=LogEntry, dispatch_uid="run-monitor-admin-log-line")
def log_admin_change(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    """One log line per change the admin records (the request id comes from the log filter)."""
    if created:
        logger.info(
            "admin %s %s %r by %s: %s",
            ACTION_NAMES.get(instance.action_flag, "acted on"),
            instance.content_type.model if instance.content_type else "object",
            instance.object_repr,
            instance.user.get_username(),
            instance.get_change_message() or "-",
        )


admin.site.unregister(User)


@admin.register(User)
class RunMonitorUserAdmin(UserAdmin):
    list_display = ("username", "email", "roles", "is_active", "is_superuser", "last_login")
    list_filter = ("is_active", "is_superuser", "groups")
    actions = ["deactivate", "activate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def roles(self, user: User) -> str:
        return ", ".join(sorted(g.name for g in user.groups.all() if g.name in ROLES)) or "—"

    @admin.action(description="Deactivate selected users (sign-in, sessions and tokens stop working)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset.exclude(pk=request.user.pk), active=False)
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(
                request, "You cannot deactivate yourself; your account was left active.", messages.WARNING
            )

    @admin.action(description="Activate selected users")
    def activate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._set_active(request, queryset, active=True)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[User], *, active: bool) -> None:
        changed = 0
        for user in queryset.filter(is_active=not active):
            user.is_active = active
            user.save(update_fields=["is_active"])
            # Django's LogEntry (shown in the admin's history) also writes the log line.
            self.log_change(request, user, [{"changed": {"fields": ["Active"]}}])
            changed += 1
        state = "activated" if active else "deactivated"
        self.message_user(request, f"{changed} user(s) {state}.", messages.SUCCESS)
