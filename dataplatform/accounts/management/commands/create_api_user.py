"""`manage.py create_api_user NAME --role viewer|operator|pipeline`: create or update an API user.

The user ends up in exactly one role group; its API token is printed as the last output line
(an existing token is kept, so re-running does not break deployed clients)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from dataplatform.accounts.roles import ROLES


class Command(BaseCommand):
    help = "Create (or update) an API user with one role and print its API token as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The username.")
        parser.add_argument("--role", required=True, choices=ROLES, help="The user's only role.")
        parser.add_argument("--rotate", action="store_true", help="Replace the user's token with a new one.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"].strip()
        role: str = options["role"]
        user_model = get_user_model()
        try:
            user_model._meta.get_field(user_model.USERNAME_FIELD).run_validators(name)
        except Exception as exc:
            raise CommandError(f"Invalid username {name!r}: {exc}") from exc
        if not name:
            raise CommandError("The username must not be empty.")
        user, created = user_model.objects.get_or_create(**{user_model.USERNAME_FIELD: name})
        if created:
            user.set_unusable_password()  # API users authenticate with their token only
        user.is_active = True
        user.save()
        group, _ = Group.objects.get_or_create(name=role)
        others = Group.objects.filter(name__in=[r for r in ROLES if r != role])
        user.groups.remove(*others)
        user.groups.add(group)
        if options["rotate"]:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"{'Created' if created else 'Updated'} user {name!r} with role {role!r}.")
        self.stdout.write(token.key)
