"""Runs in a chosen state, built through the same services the workers and the API use."""

from __future__ import annotations

from typing import Any

from dataplatform.pipeline import services
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.models import Run
from dataplatform.pipeline.states import FileStatus

WORKER = services.Actor(name="test-worker", roles=("pipeline",))
WORKER_PATH = (FileStatus.FETCHED, FileStatus.VERIFIED, FileStatus.PREPROCESSED)


def make_run(
    p: Pipeline,
    *,
    dataset: str = "equities",
    business_date: str = "2024-05-02",
    files: int = 3,
    done: int = 0,
    failed: int = 0,
    error: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    source_trigger: dict[str, Any] | None = None,
    file_metadata_key: str | None = None,
) -> Run:
    """Trigger a run of `files` files, then finish `done` of them and fail `failed` of them."""
    locations = [f"s3://bucket-{dataset}/{business_date}/part-{i:03d}.csv" for i in range(files)]
    result = services.run_trigger(
        p,
        request={
            "datasetName": dataset,
            "businessDate": business_date,
            "files": locations,
            "metadata": metadata or {},
            "sourceTrigger": source_trigger or {},
        },
        actor=WORKER,
    )
    run_id = result.run.run_id
    records = list(p.files.iter_run(run_id))
    records.sort(key=lambda r: r.location)
    for record in records[:done]:
        advance(p, record.file_id)
    for record in records[done : done + failed]:
        services.file_report(
            p, file_id=record.file_id, status=FileStatus.FAILED,
            error=error or {"message": "checksum mismatch", "stage": "verify"}, actor=WORKER,
        )
    return p.runs.get(run_id, consistent=True)


def advance(p: Pipeline, file_id: str) -> None:
    """One file all the way to preprocessed, as a worker would report it."""
    for status in WORKER_PATH:
        services.file_report(
            p, file_id=file_id, status=status, file_size=1536 * 1024, checksum="sha256:abc123", actor=WORKER
        )


def file_ids(p: Pipeline, run_id: str, status: FileStatus | None = None) -> list[str]:
    return sorted(r.file_id for r in p.files.iter_run(run_id, status=status))
