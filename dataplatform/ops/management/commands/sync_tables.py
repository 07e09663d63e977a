from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dataplatform.web.wiring import get_pipeline


class Command(BaseCommand):
    help = (
        "Create missing DynamoDB tables and indexes (additive and idempotent; never drops). "
        "With --check, only report how the live tables differ from what the app expects."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true",
            help="change nothing; list the differences and exit non-zero when there are any (drift)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pipeline = get_pipeline()
        if options["check"]:
            from dataplatform.pipeline.schema import schema_diff

            differences = schema_diff(pipeline.client, pipeline.config)
            for difference in differences:
                self.stderr.write(str(difference))
            if differences:
                # CommandError makes manage.py exit with status 1: a start script can refuse to serve.
                raise CommandError(f"{len(differences)} schema difference(s); nothing was changed")
            self.stdout.write(self.style.SUCCESS("tables match the app's schema"))
            return
        changes = pipeline.sync_tables()
        for change in changes:
            self.stdout.write(change)
        self.stdout.write(self.style.SUCCESS("tables up to date" if not changes else f"{len(changes)} change(s)"))
