"""Roles of the admin API and dashboard, stored as Django groups.

`viewer` reads, `operator` reads and retries/cancels/triggers, `pipeline` triggers runs and
reports file progress. Superusers hold every role."""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
OPERATOR = "operator"
PIPELINE = "pipeline"

ROLES: tuple[str, ...] = (VIEWER, OPERATOR, PIPELINE)

# Roles that may read runs, files, events and datasets.
READ_ROLES: tuple[str, ...] = (VIEWER, OPERATOR)


def user_roles(user: Any) -> set[str]:
    """The role names `user` holds (every role for a superuser, none for anonymous/inactive)."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return set()
    if getattr(user, "is_superuser", False):
        return set(ROLES)
    cached: set[str] | None = getattr(user, "_dataplatform_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._dataplatform_roles = cached
    return set(cached)


def has_role(user: Any, *roles: str) -> bool:
    """True when `user` holds at least one of `roles` (superusers always)."""
    if getattr(user, "is_superuser", False) and getattr(user, "is_active", False):
        return True
    return bool(user_roles(user) & set(roles))
