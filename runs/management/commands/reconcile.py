"""`manage.py reconcile --run-id X` or `--dataset D --date YYYY-MM-DD`: recompute counters."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dataplatform.pipeline.errors import PipelineError
from dataplatform.pipeline.models import parse_business_date, validate_dataset_name
from dataplatform.pipeline.services import Actor, ReconcileResult, run_reconcile
from dataplatform.web.wiring import get_pipeline


class Command(BaseCommand):
    help = (
        "Recompute a run's stored counters from FileTable (and roll it up if every file is terminal). "
        "Run it when the run is quiet: no workers or retries in flight."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run-id", help="one run")
        parser.add_argument("--dataset", help="every run of this dataset on --date")
        parser.add_argument("--date", help="business date, YYYY-MM-DD (with --dataset)")

    def handle(self, *args: Any, **options: Any) -> None:
        run_id, dataset, day = options.get("run_id"), options.get("dataset"), options.get("date")
        if bool(run_id) == bool(dataset or day):
            raise CommandError("give either --run-id, or --dataset with --date")
        pipeline = get_pipeline()
        if run_id:
            run_ids = [run_id]
        else:
            if not (dataset and day):
                raise CommandError("--dataset and --date go together")
            try:
                validate_dataset_name(dataset)
                business_date = parse_business_date(day).isoformat()
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            run_ids = []
            cursor: str | None = None
            while True:
                page = pipeline.runs.by_dataset(dataset, business_date=business_date, limit=100, cursor=cursor)
                run_ids += [r.run_id for r in page.items]
                cursor = page.cursor
                if cursor is None:
                    break
            if not run_ids:
                raise CommandError(f"no runs of {dataset} on {business_date}")
        actor = Actor(name=f"cli:{getpass.getuser()}")
        failures = 0
        for one in run_ids:
            try:
                result = run_reconcile(pipeline, run_id=one, actor=actor)
            except PipelineError as exc:
                failures += 1
                self.stderr.write(f"{one}: {exc.message}")
                continue
            self._report(one, result)
        if failures:
            raise CommandError(f"{failures} of {len(run_ids)} run(s) could not be reconciled")

    def _report(self, run_id: str, result: ReconcileResult) -> None:
        self.stdout.write(f"{run_id} ({result.run.status.value})")
        for name, before in result.before.items():
            after = result.after[name]
            mark = "" if before == after else "  <- fixed"
            self.stdout.write(f"  {name:<15} {before:>8} -> {after:<8}{mark}")
        self.stdout.write(self.style.SUCCESS("  changed") if result.changed else "  already exact")
