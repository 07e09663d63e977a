from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from dataplatform.web.wiring import get_pipeline


class Command(BaseCommand):
    help = "Create missing DynamoDB tables and indexes (additive and idempotent; never drops)."

    def handle(self, *args: Any, **options: Any) -> None:
        changes = get_pipeline().sync_tables()
        for change in changes:
            self.stdout.write(change)
        self.stdout.write(self.style.SUCCESS("tables up to date" if not changes else f"{len(changes)} change(s)"))
