"""Create (or refresh) the demo accounts: `operator` (operator role) and `viewer` (viewer role).

Passwords come from DEMO_OPERATOR_PASSWORD / DEMO_VIEWER_PASSWORD, or are generated; the
credentials are printed so the person running `bin/run` can sign in."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from dataplatform.accounts import roles

DEMO_ACCOUNTS = (
    ("operator", roles.OPERATOR, "DEMO_OPERATOR_PASSWORD"),
    ("viewer", roles.VIEWER, "DEMO_VIEWER_PASSWORD"),
)


class Command(BaseCommand):
    help = "Create the demo users 'operator' and 'viewer' and print their credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--keep-password", action="store_true",
            help="Leave the password of an existing account unchanged (unless its env var is set).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        for username, role, env_name in DEMO_ACCOUNTS:
            group, _ = Group.objects.get_or_create(name=role)
            user, created = user_model.objects.get_or_create(username=username)
            from_env = os.environ.get(env_name, "").strip()
            keep = options["keep_password"] and not created and not from_env and user.has_usable_password()
            password = None if keep else (from_env or secrets.token_urlsafe(12))
            if password is not None:
                user.set_password(password)
            user.is_active = True
            user.save()
            user.groups.add(group)
            shown = password if password is not None else "(unchanged)"
            self.stdout.write(f"Demo {role}: username={username} password={shown}")
