"""Create (or refresh) the demo accounts: `operator` (operator role), `viewer` (viewer role)
and `admin` (a superuser: notification channels, users in /admin/).

Passwords come from DEMO_OPERATOR_PASSWORD / DEMO_VIEWER_PASSWORD / DEMO_ADMIN_PASSWORD, or are
generated; the credentials are printed so the person running `bin/run` can sign in."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from dataplatform.accounts import roles

# (username, role group or None for the superuser, the variable that may hold its password)
DEMO_ACCOUNTS: tuple[tuple[str, str | None, str], ...] = (
    ("operator", roles.OPERATOR, "DEMO_OPERATOR_PASSWORD"),
    ("viewer", roles.VIEWER, "DEMO_VIEWER_PASSWORD"),
    ("admin", None, "DEMO_ADMIN_PASSWORD"),
)


class Command(BaseCommand):
    help = "Create the demo users 'operator', 'viewer' and 'admin' and print their credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--keep-password", action="store_true",
            help="Leave the password of an existing account unchanged (unless its env var is set).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        for username, role, env_name in DEMO_ACCOUNTS:
            user, created = user_model.objects.get_or_create(username=username)
            from_env = os.environ.get(env_name, "").strip()
            keep = options["keep_password"] and not created and not from_env and user.has_usable_password()
            password = None if keep else (from_env or secrets.token_urlsafe(12))
            if password is not None:
                user.set_password(password)
            user.is_active = True
            user.is_superuser = user.is_staff = role is None
            user.save()
            if role is not None:
                user.groups.add(Group.objects.get_or_create(name=role)[0])
            shown = password if password is not None else "(unchanged)"
            self.stdout.write(f"Demo {role or 'superuser'}: username={username} password={shown}")
