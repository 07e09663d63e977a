from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dataplatform.pipeline.demo import load_demo
from dataplatform.pipeline.errors import PipelineError
from dataplatform.web.wiring import get_pipeline


class Command(BaseCommand):
    help = (
        "Load the demo dataset registry and 30 business dates of run history (idempotent: "
        "what is already there is skipped)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today", type=date.fromisoformat, default=None,
            help="load the history ending on this date (YYYY-MM-DD) instead of today (UTC)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = load_demo(get_pipeline(), today=options["today"], progress=self.stdout.write)
        except PipelineError as exc:
            raise CommandError(exc.message) from exc
        runs = ", ".join(f"{status} {n}" for status, n in sorted(result.run_statuses.items()))
        files = ", ".join(f"{status} {n}" for status, n in sorted(result.file_statuses.items()))
        self.stdout.write(f"demo runs by status: {runs}")
        self.stdout.write(f"demo files by status: {files}")
        self.stdout.write(f"missing days (expected, no run): {len(result.missing)}")
        self.stdout.write(f"10,000-file run: {result.big_run_id}")
        self.stdout.write(self.style.SUCCESS("demo data loaded"))
