"""Django's ModelBackend and DRF's TokenAuthentication, each extended at its documented hook
(`get_user`, `authenticate_credentials`) so that a signed-in request reads its user and the user's
role names in one query instead of two.

The query reads the user's rows of the user-group link table, joined with the user (and, for a
token, the token) and the group: one row per group the user is in. A user in no group (most
superusers, an account without a role) has no such row; then the framework's own lookup runs
and the user holds no role. Everything else is the framework's: the same checks (inactive users
refused, unknown tokens refused with DRF's messages), the same objects returned. The role names
are kept on the user object for the request (`roles.ROLE_CACHE`), so a removed role takes effect
on the next request, as before."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from dataplatform.accounts.roles import ROLE_CACHE, ROLES


def _memberships() -> Any:
    """The user-group link rows, with their group joined."""
    return get_user_model().groups.through.objects.select_related("group")


def _keep_roles(user: Any, group_names: Iterable[str]) -> Any:
    setattr(user, ROLE_CACHE, frozenset(name for name in group_names if name in ROLES))
    return user


class RoleModelBackend(ModelBackend):
    """ModelBackend whose `get_user` (the per-request lookup of a session's user) also reads the
    user's role names, in the same query."""

    def get_user(self, user_id: Any) -> Any:
        try:
            rows = list(_memberships().select_related("user").filter(user_id=user_id))
        except (ValueError, TypeError):  # a session value that is no user id: no user, as in ModelBackend
            return None
        if not rows:
            user = super().get_user(user_id)
            return _keep_roles(user, ()) if user is not None else None
        user = rows[0].user
        return _keep_roles(user, (row.group.name for row in rows)) if self.user_can_authenticate(user) else None


class RoleTokenAuthentication(TokenAuthentication):
    """TokenAuthentication whose token lookup also reads the user's role names, in the same query."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        rows = list(_memberships().select_related("user__auth_token").filter(user__auth_token__key=key))
        if not rows:
            user, token = super().authenticate_credentials(key)
            return _keep_roles(user, ()), token
        user = rows[0].user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return _keep_roles(user, (row.group.name for row in rows)), user.auth_token
