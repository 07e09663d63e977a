"""Roles of the admin API and dashboard, stored as Django groups.

`viewer` reads, `operator` reads and retries/cancels/triggers, `pipeline` triggers runs and
reports file progress. Superusers hold every role."""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
OPERATOR = "operator"
PIPELINE = "pipeline"

ROLES: tuple[str, ...] = (VIEWER, OPERATOR, PIPELINE)

# Attribute of a user object holding its role names for the current request.
ROLE_CACHE = "_dataplatform_roles"


def user_roles(user: Any) -> set[str]:
    """The role names `user` holds (every role for a superuser, none for anonymous/inactive)."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return set()
    if getattr(user, "is_superuser", False):
        return set(ROLES)
    cached: frozenset[str] | None = getattr(user, ROLE_CACHE, None)
    if cached is None:
        # One query per request: the user object lives as long as the request, so a removed
        # role takes effect on the next one.
        cached = frozenset(name for name in user.groups.values_list("name", flat=True) if name in ROLES)
        setattr(user, ROLE_CACHE, cached)
    return set(cached)


def label(user: Any) -> str:
    """The role shown in the page header: the strongest role the user holds ('superuser' for
    one: it also manages channels and users, which no role grants)."""
    held = user_roles(user)
    if held and getattr(user, "is_superuser", False):
        return "superuser"
    for role in (OPERATOR, PIPELINE, VIEWER):
        if role in held:
            return role
    return ""


def has_role(user: Any, *roles: str) -> bool:
    """True when `user` holds at least one of `roles` (superusers always)."""
    if getattr(user, "is_superuser", False) and getattr(user, "is_active", False):
        return True
    return bool(user_roles(user) & set(roles))
