from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dataplatform.pipeline.datasets import parse_dataset_documents
from dataplatform.pipeline.errors import PipelineError, ValidationFailed
from dataplatform.web.wiring import get_pipeline


def read_document(path: Path) -> Any:
    """Parse a JSON file, or YAML when the name ends in .yaml/.yml."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() in {".yaml", ".yml"}:
        # PyYAML ships with drf-spectacular (a runtime dependency); safe_load builds plain data only.
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CommandError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc


class Command(BaseCommand):
    help = (
        "Load dataset configurations (JSON, or YAML for .yaml/.yml) into the dataset registry. "
        "Every entry is validated first; if any is invalid nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help='a list of datasets, or {"datasets": [...]}')
        parser.add_argument("--dry-run", action="store_true", help="validate only; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        data = read_document(path)
        try:
            configs = parse_dataset_documents(data)
        except ValidationFailed as exc:
            details = "\n".join(f"  {field}: {message}" for field, message in exc.fields.items())
            raise CommandError(f"{path}: {exc.message}" + (f"\n{details}" if details else "")) from exc
        if options["dry_run"]:
            self.stdout.write(f"{len(configs)} dataset(s) valid; nothing written (--dry-run)")
            return
        try:
            written = get_pipeline().datasets.put_many(configs)
        except PipelineError as exc:
            raise CommandError(exc.message) from exc
        for config in configs:
            self.stdout.write(f"  {config.dataset_name} ({config.environment.value})")
        self.stdout.write(self.style.SUCCESS(f"{written} dataset(s) loaded from {path}"))
