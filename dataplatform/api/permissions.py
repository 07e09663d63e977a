"""DRF permissions for the admin API: which roles may call which action (fail closed)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from dataplatform.accounts.roles import OPERATOR, PIPELINE, VIEWER, has_role

READ = (VIEWER, OPERATOR)
TRIGGER = (OPERATOR, PIPELINE)
OPERATE = (OPERATOR,)
REPORT = (PIPELINE,)


class ActionRolePermission(BasePermission):
    """Allows a viewset action only to users holding one of `view.action_roles[view.action]`.

    An action missing from the table is refused, so a new endpoint is closed until a role is named."""

    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if hasattr(view, "action_map") and view.action is None:
            # A viewset route without this method (DELETE on a list): 405 with its Allow header, not
            # a role refusal that would send even a superuser looking for a missing role.
            raise MethodNotAllowed(request.method)
        roles: tuple[str, ...] = getattr(view, "action_roles", {}).get(getattr(view, "action", None), ())
        return bool(roles) and has_role(request.user, *roles)


class ReadAccess(BasePermission):
    """Viewers and operators (and superusers): for the schema and docs views."""

    message = "Your role does not allow reading the admin API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) and has_role(request.user, *READ)
