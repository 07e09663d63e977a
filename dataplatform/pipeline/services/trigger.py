"""Trigger: create a run, register its files, move it to `dispatched` and dispatch the files."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..datasets import DatasetConfig, resolve_locations
from ..dispatch import FileMessage
from ..dynamo import Update
from ..errors import (
    AlreadyExists,
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    PipelineError,
    ValidationFailed,
)
from ..models import Environment, FileRecord, Run, parse_business_date
from ..states import FileStatus, RunStatus
from ..timeutil import utc_now
from .requests import MAX_FILES, Actor, TriggerRequest, parse_request

if TYPE_CHECKING:
    from ..app import Pipeline


@dataclass
class TriggerResult:
    run: Run
    created: bool


def parse_trigger(request: TriggerRequest | dict[str, Any]) -> TriggerRequest:
    """Validate a trigger payload; ValidationFailed with one message per bad field."""
    return parse_request(TriggerRequest, request, what="trigger")


def idempotency_key(request: TriggerRequest) -> str | None:
    """The explicit key, or one derived from the trigger payload when it carries a
    sourceTrigger (a redelivered scheduler/S3 event); None for ad-hoc manual triggers."""
    if request.idempotencyKey:
        return request.idempotencyKey
    if not request.sourceTrigger:
        return None
    canonical = json.dumps(
        {
            "datasetName": request.datasetName,
            "businessDate": request.businessDate,
            "sourceType": request.sourceType.value,
            "sourceTrigger": request.sourceTrigger,
            "files": request.files,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "derived:" + hashlib.sha256(canonical.encode()).hexdigest()


REGISTRY_DIGEST = "registry"


def files_digest(request: TriggerRequest) -> str:
    """What an idempotency key is bound to besides the dataset and date: the sha256 of the
    trigger's file list (sorted, duplicates dropped), or "registry" when it named no files."""
    if request.files is None:
        return REGISTRY_DIGEST
    return hashlib.sha256("\n".join(sorted(set(request.files))).encode()).hexdigest()


def _same_files(run: Run, digest: str) -> Run:
    """`run` when a repeat of its key asks for the same files; IdempotencyConflict (409) otherwise.
    Runs stored before the digest existed carry none and are taken as they are."""
    if run.files_digest is not None and run.files_digest != digest:
        raise IdempotencyConflict(
            f"The idempotency key of run {run.run_id!r} was first sent with a different file list; "
            "a repeat must list the same files (use a new key for a different trigger).",
            current=run.status.value,
        )
    return run


def make_run_id(dataset_name: str, business_date: str, key: str | None) -> str:
    """`<dataset>-<yyyymmdd>-<32 hex>`: random without a key, derived from the key with one,
    so a repeated trigger collides on the conditional create instead of making a twin."""
    suffix = hashlib.sha256(key.encode()).hexdigest()[:32] if key else uuid.uuid4().hex
    return f"{dataset_name}-{business_date.replace('-', '')}-{suffix}"


def make_file_id(run_id: str, location: str) -> str:
    """Deterministic within a run (re-registration is idempotent), distinct across runs."""
    return f"{run_id}-{hashlib.sha256(location.encode()).hexdigest()[:16]}"


def _registered(p: Pipeline, request: TriggerRequest) -> DatasetConfig | None:
    try:
        return p.datasets.get(request.datasetName)
    except NotFound:
        return None


def run_environment(request: TriggerRequest, config: DatasetConfig | None, default: Environment) -> Environment:
    """A run's environment is its dataset's, from the registry (SPEC section 3); a trigger that
    names another one is refused. Unregistered datasets: the trigger's, else the process's."""
    if config is None:
        return Environment(request.environment or default)
    if request.environment and Environment(request.environment) != config.environment:
        raise ValidationFailed(
            f"Dataset {request.datasetName!r} is registered for {config.environment.value!r}; "
            f"a trigger for {Environment(request.environment).value!r} is refused.",
            fields={"environment": f"must be {config.environment.value!r} (the registry's)"},
        )
    return config.environment


def _resolve_files(p: Pipeline, request: TriggerRequest, config: DatasetConfig | None) -> list[str]:
    if request.files is not None:
        locations = list(dict.fromkeys(request.files))
    else:
        if config is None:
            raise ValidationFailed(
                f"Dataset {request.datasetName!r} is not registered and the trigger lists no files; "
                "register the dataset or pass `files`.",
                fields={"files": "required: the dataset is not in the registry"},
            )
        locations = resolve_locations(config, parse_business_date(request.businessDate))
    if not locations:
        raise ValidationFailed(
            f"No files were found for {request.datasetName} on {request.businessDate}.",
            fields={"files": "the dataset's locations resolved to no files"},
        )
    if len(locations) > MAX_FILES:
        raise ValidationFailed(
            f"{len(locations)} files is more than one run may register ({MAX_FILES}).",
            fields={"files": f"at most {MAX_FILES} files"},
        )
    return locations


def run_trigger(p: Pipeline, *, request: TriggerRequest | dict[str, Any], actor: Actor) -> TriggerResult:
    """Create a run, register its files, move it to `dispatched` and dispatch the files.

    A repeat with the same idempotency key returns the existing run (created=False); if that
    run is still `pending` (an earlier attempt died mid-registration) the registration is
    finished. Invalid input raises ValidationFailed before any run or file is written; like
    every refusal it leaves one audit record (SPEC: allowed or refused, one record each)."""
    run_id = "-"
    try:
        parsed = parse_trigger(request)
        key = idempotency_key(parsed)
        run_id = make_run_id(parsed.datasetName, parsed.businessDate, key)
        digest = files_digest(parsed)
        existing = _existing_run(p, run_id) if key else None
        if existing is not None:
            _same_files(existing, digest)
        if existing is not None and existing.status is not RunStatus.PENDING:
            result = TriggerResult(existing, created=False)
        else:
            config = _registered(p, parsed)
            environment = run_environment(parsed, config, p.config.environment)
            locations = _resolve_files(p, parsed, config)
            result = _register(p, parsed, run_id, key, digest, locations, environment)
    except ValidationFailed as exc:
        dataset = request.get("datasetName") if isinstance(request, dict) else None
        p.audit.record_action(
            actor=actor.name, request_id=actor.request_id, action="trigger", run_id="-",
            target=f"dataset:{str(dataset)[:200]}", outcome="refused", error=exc,
            detail={"fields": exc.fields},
        )
        raise
    except PipelineError as exc:
        p.audit.record_action(actor=actor.name, request_id=actor.request_id, action="trigger", run_id=run_id,
                              outcome="refused", error=exc)
        raise
    p.audit.record_action(
        actor=actor.name, request_id=actor.request_id, action="trigger", run_id=result.run.run_id,
        outcome="allowed",
        detail={"created": result.created, "status": result.run.status.value, "files": result.run.resolved_files},
    )
    return result


def _existing_run(p: Pipeline, run_id: str) -> Run | None:
    try:
        return p.runs.get(run_id, consistent=True)
    except NotFound:
        return None


def _register(
    p: Pipeline, request: TriggerRequest, run_id: str, key: str | None, digest: str, locations: list[str],
    environment: Environment,
) -> TriggerResult:
    now = utc_now()
    run = Run.model_validate(
        {
            "runId": run_id,
            "datasetName": request.datasetName,
            "businessDate": request.businessDate,
            "sourceType": request.sourceType,
            "sourceTrigger": request.sourceTrigger,
            "createdAt": now,
            "updatedAt": now,
            "status": RunStatus.PENDING,
            "environment": environment,
            "metadata": request.metadata,
            "idempotencyKey": key,
            "filesDigest": digest if key else None,
        }
    )
    created = True
    try:
        p.runs.create(run)
    except AlreadyExists:
        existing = _same_files(p.runs.get(run_id, consistent=True), digest)
        if existing.status is not RunStatus.PENDING:
            return TriggerResult(existing, created=False)
        # An earlier attempt died before dispatching: finish its registration.
        run, created = existing, False
    records = [
        FileRecord.model_validate(
            {
                "fileId": make_file_id(run_id, location),
                "runId": run_id,
                "datasetName": run.dataset_name,
                "businessDate": run.business_date,
                "environment": run.environment,
                "location": location,
                "status": FileStatus.PENDING,
                "lastUpdated": now,
                "attempts": 0,
            }
        )
        for location in locations
    ]
    # Only what is absent is created: a concurrent copy of this trigger may already have
    # dispatched the run and workers moved its files, which must never be overwritten.
    p.files.create_absent(records, pool=p.tasks)
    count = len(records)
    try:
        run = p.runs.transition(
            run_id, RunStatus.DISPATCHED,
            update=Update(set_values={"resolvedFiles": count, "pendingFiles": count, "updatedAt": utc_now()}),
        )
    except InvalidTransition:
        # A concurrent repeat finished the registration first; it dispatches, we must not.
        return TriggerResult(p.runs.get(run_id, consistent=True), created=created)
    p.dispatcher.dispatch([FileMessage(run_id, r.file_id, r.location, r.attempts + 1) for r in records])
    return TriggerResult(run, created=created)
