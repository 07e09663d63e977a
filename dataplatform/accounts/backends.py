"""Django's ModelBackend and DRF's TokenAuthentication, each extended at its documented hook
(`get_user`, `authenticate_credentials`) so that a signed-in request reads its user and the user's
role names in one query instead of two.

The query reads the user annotated with the name of a group it is in (`F("groups__name")`, a LEFT
OUTER JOIN through the user-group link): one row per group, or one row with no name for a user in
no group (most superusers, an account without a role). Everything else is the framework's: the
same checks (inactive users refused, unknown tokens refused with DRF's messages), the same objects
returned. The role names are kept on the user object for the request (`roles.ROLE_CACHE`), so a
removed role takes effect on the next request, as before."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from dataplatform.accounts.roles import ROLE_CACHE, ROLES

GROUP_NAME = "_group_name"  # the annotation: one group's name per row, None for a user in no group


def _users_with_group_names() -> Any:
    """Users, one row per group each is in (one row with no name for a user in no group)."""
    return get_user_model()._default_manager.annotate(**{GROUP_NAME: F("groups__name")})


def _with_roles(rows: list[Any]) -> Any:
    """The user of `rows` (all rows are the same user), holding the role names among its groups."""
    user = rows[0]
    setattr(user, ROLE_CACHE, frozenset(name for row in rows if (name := getattr(row, GROUP_NAME)) in ROLES))
    return user


class RoleModelBackend(ModelBackend):
    """ModelBackend whose `get_user` (the per-request lookup of a session's user) also reads the
    user's role names, in the same query."""

    def get_user(self, user_id: Any) -> Any:
        try:
            rows = list(_users_with_group_names().filter(pk=user_id))
        except (ValueError, TypeError):  # a session value that is no user id: no user, as in ModelBackend
            return None
        if not rows:
            return None
        user = _with_roles(rows)
        return user if self.user_can_authenticate(user) else None


class RoleTokenAuthentication(TokenAuthentication):
    """TokenAuthentication whose token lookup also reads the user's role names, in the same query."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        rows = list(_users_with_group_names().select_related("auth_token").filter(auth_token__key=key))
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = _with_roles(rows)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, user.auth_token
