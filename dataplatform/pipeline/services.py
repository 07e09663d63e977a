"""Write side of the core (services): trigger, worker progress, retry, cancel, reconcile.

No transactions (dynalite lacks TransactWriteItems), so a file move and its run counters are
two conditional writes, "file move with run commit":

1. a conditional UpdateItem moves the file (FileRepository.move, which also stamps a
   `moveToken` and copies the old status in the same write);
2. a conditional UpdateItem on the run ADDs the counter deltas, guarded by the run status;
3. if the run refuses (cancelled, finished), the file move is undone (compensation, guarded by
   the move token) and the request is refused, so nothing takes effect after a cancel;
4. roll-up: when every file is terminal the run becomes success or failed, guarded by the
   counters observed in step 2.

A crash between steps 1 and 2 leaves the counters off by that move; `run_reconcile`
recomputes them from FileTable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .datasets import resolve_locations
from .dispatch import FileMessage
from .dynamo import Update
from .errors import (
    AlreadyExists,
    DispatchFailed,
    InvalidTransition,
    NotFound,
    PipelineError,
    ValidationFailed,
)
from .models import (
    DatasetName,
    Environment,
    FileRecord,
    Run,
    SourceType,
    parse_business_date,
    to_dynamo,
    validate_location,
)
from .repository import FileMove
from .states import FILE_COUNTER, FileStatus, RunStatus
from .timeutil import utc_now

if TYPE_CHECKING:
    from .app import Pipeline

logger = logging.getLogger("dataplatform.pipeline")

T = TypeVar("T")
R = TypeVar("R")

MAX_FILES = 100_000
MAX_MAPPING_BYTES = 32 * 1024
MAX_ERROR_BYTES = 8 * 1024
MAX_CHECKSUM_LENGTH = 256
MAX_REASON_LENGTH = 1000
MAX_FILE_ID_LENGTH = 512
# Below this many files a thread pool costs more than it saves.
PARALLEL_THRESHOLD = 8
# Compensation can briefly lose a race with another request's own compensation of the same
# file; a few short retries let that one finish first.
COMPENSATION_ATTEMPTS = 5
RECONCILE_ATTEMPTS = 5

# Run states in which a worker report / a retry may commit its counters.
REPORT_RUN_SOURCES = (RunStatus.DISPATCHED, RunStatus.PROCESSING)
RETRY_RUN_SOURCES = (RunStatus.FAILED, RunStatus.PROCESSING, RunStatus.DISPATCHED)
REPORTABLE = frozenset({FileStatus.FETCHED, FileStatus.VERIFIED, FileStatus.PREPROCESSED, FileStatus.FAILED})
COUNTERS = ("resolvedFiles", *FILE_COUNTER.values())

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Actor:
    """Who asks: a user name (or a service identity) and the request id for the audit trail."""

    name: str
    request_id: str | None = None
    roles: tuple[str, ...] = ()


# --- trigger -----------------------------------------------------------------------------


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), allow_nan=False, default=str).encode())


def _bounded_mapping(value: dict[str, Any], limit: int) -> dict[str, Any]:
    try:
        to_dynamo(value)  # refuses NaN/infinity before anything is written
        size = _json_size(value)
    except ValueError as exc:
        raise ValueError("must not contain NaN or infinity") from exc
    if size > limit:
        raise ValueError(f"must be at most {limit} bytes of JSON")
    return value


class TriggerRequest(BaseModel):
    """A trigger as received (Lambda event body, API request, simulator). Strict: unknown
    fields, wrong JSON types and control characters are refused before anything is written."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, frozen=True)

    datasetName: DatasetName  # camelCase: the wire names of the trigger
    businessDate: str = Field(min_length=1, max_length=10)
    sourceType: SourceType = Field(default=SourceType.MANUAL, strict=False)
    sourceTrigger: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    files: list[str] | None = Field(default=None, max_length=MAX_FILES)
    idempotencyKey: str | None = Field(default=None, min_length=1, max_length=256)
    environment: Environment | None = Field(default=None, strict=False)

    @field_validator("businessDate")
    @classmethod
    def _date(cls, value: str) -> str:
        return parse_business_date(value).isoformat()

    @field_validator("sourceTrigger", "metadata")
    @classmethod
    def _mapping(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_mapping(value, MAX_MAPPING_BYTES)

    @field_validator("files")
    @classmethod
    def _files(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must list at least one file (or be left out to use the dataset registry)")
        cleaned: list[str] = []
        for index, location in enumerate(value):
            try:
                cleaned.append(validate_location(location.strip()))
            except ValueError as exc:
                raise ValueError(f"files[{index}]: {exc}") from exc
        return cleaned

    @field_validator("idempotencyKey")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("must contain printable characters only")
        return value


@dataclass
class TriggerResult:
    run: Run
    created: bool


def _validation_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "__root__"
        fields.setdefault(location, str(error["msg"]).removeprefix("Value error, "))
    return fields


def parse_trigger(request: TriggerRequest | dict[str, Any]) -> TriggerRequest:
    """Validate a trigger payload; ValidationFailed with one message per bad field."""
    if isinstance(request, TriggerRequest):
        return request
    if not isinstance(request, dict):
        raise ValidationFailed("The trigger must be a JSON object.", fields={"__root__": "expected an object"})
    try:
        return TriggerRequest.model_validate(request)
    except ValidationError as exc:
        fields = _validation_fields(exc)
        summary = "; ".join(f"{k}: {v}" for k, v in list(fields.items())[:5])
        raise ValidationFailed(f"Invalid trigger: {summary}", fields=fields) from exc


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


def make_run_id(dataset_name: str, business_date: str, key: str | None) -> str:
    """`<dataset>-<yyyymmdd>-<32 hex>`: random without a key, derived from the key with one,
    so a repeated trigger collides on the conditional create instead of making a twin."""
    suffix = hashlib.sha256(key.encode()).hexdigest()[:32] if key else uuid.uuid4().hex
    return f"{dataset_name}-{business_date.replace('-', '')}-{suffix}"


def make_file_id(run_id: str, location: str) -> str:
    """Deterministic within a run (re-registration is idempotent), distinct across runs."""
    return f"{run_id}-{hashlib.sha256(location.encode()).hexdigest()[:16]}"


def _resolve_files(p: Pipeline, request: TriggerRequest) -> list[str]:
    if request.files is not None:
        locations = list(dict.fromkeys(request.files))
    else:
        try:
            config = p.datasets.get(request.datasetName)
        except NotFound as exc:
            raise ValidationFailed(
                f"Dataset {request.datasetName!r} is not registered and the trigger lists no files; "
                "register the dataset or pass `files`.",
                fields={"files": "required: the dataset is not in the registry"},
            ) from exc
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
    finished. Invalid input raises ValidationFailed before anything is written; such refusals
    are logged on the audit logger only, because bad input must leave the tables untouched."""
    run_id = "-"
    try:
        parsed = parse_trigger(request)
        key = idempotency_key(parsed)
        run_id = make_run_id(parsed.datasetName, parsed.businessDate, key)
        existing = _existing_run(p, run_id) if key else None
        if existing is not None and existing.status is not RunStatus.PENDING:
            result = TriggerResult(existing, created=False)
        else:
            locations = _resolve_files(p, parsed)
            result = _register(p, parsed, run_id, key, locations)
    except ValidationFailed as exc:
        dataset = request.get("datasetName") if isinstance(request, dict) else None
        p.audit.record(
            target_id="-", actor=actor.name, action="trigger", target=f"dataset:{dataset}", outcome="refused",
            reason=exc.message, detail={"error": exc.code, "fields": exc.fields}, request_id=actor.request_id,
            store=False,
        )
        raise
    except PipelineError as exc:
        _audit(p, actor, action="trigger", run_id=run_id, outcome="refused", error=exc)
        raise
    _audit(
        p, actor, action="trigger", run_id=result.run.run_id, outcome="allowed",
        detail={"created": result.created, "status": result.run.status.value, "files": result.run.resolved_files},
    )
    return result


def _existing_run(p: Pipeline, run_id: str) -> Run | None:
    try:
        return p.runs.get(run_id, consistent=True)
    except NotFound:
        return None


def _register(
    p: Pipeline, request: TriggerRequest, run_id: str, key: str | None, locations: list[str]
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
            "environment": request.environment or p.config.environment,
            "metadata": request.metadata,
            "idempotencyKey": key,
        }
    )
    created = True
    try:
        p.runs.create(run)
    except AlreadyExists:
        existing = p.runs.get(run_id, consistent=True)
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
    # The run is still `pending`, so nothing was dispatched and no file can have moved:
    # a blind batch put (possibly over an earlier attempt's identical items) is safe.
    p.files.put_batch(records)
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


# --- the write protocol ------------------------------------------------------------------


def _parallel(p: Pipeline, items: Sequence[T], work: Callable[[T], R]) -> list[R]:
    """Map `work` over `items`, on a thread pool when there are enough of them to pay off."""
    if len(items) < PARALLEL_THRESHOLD or p.config.worker_threads <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(p.config.worker_threads, len(items))) as pool:
        return list(pool.map(work, items))


def _compensate(p: Pipeline, moves: Sequence[FileMove], undo: Callable[[FileMove], Update] | None) -> None:
    """Undo file moves whose run commit was refused (each only if still where we put it)."""

    def restore(move: FileMove) -> None:
        for attempt in range(COMPENSATION_ATTEMPTS):
            if p.files.restore(move, update=undo(move) if undo else None):
                return
            time.sleep(0.01 * 2**attempt)
        logger.error(
            "could not undo move of file %s (run %s); reconcile the run", move.record.file_id, move.record.run_id
        )

    _parallel(p, moves, restore)


def _commit(
    p: Pipeline,
    run_id: str,
    moves: Sequence[FileMove],
    *,
    run_sources: Iterable[RunStatus],
    undo: Callable[[FileMove], Update] | None = None,
) -> Run:
    """Steps 2-4 of the protocol: ADD the counter deltas on the run (guarded by its status),
    compensate and refuse when the run does not accept them, then roll up."""
    deltas: dict[str, int] = {}
    for move in moves:
        source, target = FILE_COUNTER[move.previous], FILE_COUNTER[move.record.status]
        deltas[source] = deltas.get(source, 0) - 1
        deltas[target] = deltas.get(target, 0) + 1
    update = Update(
        set_values={"status": RunStatus.PROCESSING.value, "updatedAt": utc_now()},
        add_values={k: v for k, v in deltas.items() if v},
        remove=["error"],
    )
    try:
        run = p.runs.update(run_id, update, require_status=run_sources)
    except (InvalidTransition, NotFound) as exc:
        _compensate(p, moves, undo)
        if isinstance(exc, NotFound):
            raise
        raise InvalidTransition(
            f"Run {run_id!r} is {exc.current!r}; the change was refused and nothing was moved.",
            current=exc.current, target=exc.target,
        ) from exc
    return _roll_up(p, run)


def _roll_up(p: Pipeline, run: Run) -> Run:
    """processing -> success | failed once every file is terminal, guarded by the counters
    observed; a refused roll-up means someone changed the run meanwhile (not an error)."""
    if run.status is not RunStatus.PROCESSING or run.resolved_files <= 0:
        return run
    if run.processed_files + run.failed_files != run.resolved_files:
        return run
    expect = {"processedFiles": run.processed_files, "failedFiles": run.failed_files}
    if run.failed_files == 0:
        target, update = RunStatus.SUCCESS, Update(set_values={"updatedAt": utc_now()}, remove=["error"])
    else:
        error = {
            "message": f"{run.failed_files} of {run.resolved_files} files failed",
            "failedFiles": run.failed_files,
        }
        target, update = RunStatus.FAILED, Update(set_values={"updatedAt": utc_now(), "error": error})
    try:
        return p.runs.transition(run.run_id, target, update=update, expect=expect)
    except InvalidTransition:
        return run


# --- worker progress ---------------------------------------------------------------------


def _report_fields(
    file_size: int | None, checksum: str | None, error: dict[str, Any] | None
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    bad: dict[str, str] = {}
    if file_size is not None:
        if isinstance(file_size, bool) or not isinstance(file_size, int) or file_size < 0:
            bad["fileSize"] = "must be a whole number of bytes, 0 or more"
        else:
            values["fileSize"] = file_size
    if checksum is not None:
        if not isinstance(checksum, str) or not checksum or len(checksum) > MAX_CHECKSUM_LENGTH \
                or not checksum.isprintable():
            bad["checksum"] = f"must be 1-{MAX_CHECKSUM_LENGTH} printable characters"
        else:
            values["checksum"] = checksum
    if error is not None:
        try:
            if not isinstance(error, dict):
                raise ValueError("must be a JSON object")
            _bounded_mapping(error, MAX_ERROR_BYTES)
            values["error"] = error
        except ValueError as exc:
            bad["error"] = str(exc) if isinstance(error, dict) else "must be a JSON object"
    if bad:
        raise ValidationFailed("Invalid file report: " + "; ".join(f"{k} {v}" for k, v in bad.items()), fields=bad)
    return values


def file_report(
    p: Pipeline,
    *,
    file_id: str,
    status: FileStatus | str,
    file_size: int | None = None,
    checksum: str | None = None,
    error: dict[str, Any] | None = None,
    actor: Actor,
) -> FileRecord:
    """A worker reports progress on one file (fetched, verified, preprocessed or failed).

    Conditional file move + atomic counter ADD on the run + roll-up. Refused
    (InvalidTransition) when the run is cancelled or finished; a repeat of a report that took
    effect returns the file unchanged. Worker reports are not admin actions: no audit record."""
    try:
        target = FileStatus(status)
    except ValueError as exc:
        raise ValidationFailed(
            f"Unknown file status {status!r}.", fields={"status": "must be one of " + ", ".join(FileStatus)}
        ) from exc
    if target not in REPORTABLE:
        raise ValidationFailed(
            f"Workers report {', '.join(sorted(REPORTABLE))}; {target.value!r} is set by a retry.",
            fields={"status": "not a worker status"},
        )
    values = _report_fields(file_size, checksum, error)
    try:
        move = p.files.move(file_id, target, update=Update(set_values=values))
    except InvalidTransition as exc:
        if exc.current == target.value:
            return p.files.get(file_id, consistent=True)
        raise

    def undo(_: FileMove) -> Update:
        # States a worker moves from never carry an error (a retry clears it).
        return Update(remove=["error"]) if "error" in values else Update()

    _commit(p, move.record.run_id, [move], run_sources=REPORT_RUN_SOURCES, undo=undo)
    logger.debug("file %s %s -> %s by %s", file_id, move.previous, target, actor.name)
    return move.record


# --- retry -------------------------------------------------------------------------------


@dataclass
class RetryResult:
    retried: int
    file_ids: list[str]
    run: Run
    dry_run: bool


def _clean_file_ids(file_ids: list[str] | None) -> list[str] | None:
    if file_ids is None:
        return None
    if not isinstance(file_ids, list) or len(file_ids) > MAX_FILES:
        raise ValidationFailed(f"file_ids must be a list of at most {MAX_FILES} ids.", fields={"fileIds": "invalid"})
    for value in file_ids:
        if not isinstance(value, str) or not value or len(value) > MAX_FILE_ID_LENGTH or _CONTROL.search(value):
            raise ValidationFailed(f"Invalid file id {value!r}.", fields={"fileIds": "invalid file id"})
    return list(dict.fromkeys(file_ids))


def _retryable_run(p: Pipeline, run_id: str) -> Run:
    run = p.runs.get(run_id, consistent=True)
    if run.status in (RunStatus.CANCELLED, RunStatus.SUCCESS):
        raise InvalidTransition(
            f"Run {run_id!r} is {run.status.value!r}; its files cannot be retried.",
            current=run.status.value, target=RunStatus.PROCESSING.value,
        )
    return run


def _retry_candidates(p: Pipeline, run_id: str, file_ids: list[str] | None) -> list[FileRecord]:
    failed = list(p.files.iter_run(run_id, status=FileStatus.FAILED))
    if file_ids is None:
        return failed
    wanted = set(file_ids)
    return [f for f in failed if f.file_id in wanted]


def _retry_moves(p: Pipeline, run_id: str, candidates: list[FileRecord]) -> tuple[list[FileMove], Run]:
    """failed -> pending (attempts + 1, error cleared) for each candidate, in parallel; then
    the run commit. Only files whose conditional move succeeded count as retried."""

    def move(record: FileRecord) -> FileMove | None:
        try:
            return p.files.move(
                record.file_id, FileStatus.PENDING, sources=[FileStatus.FAILED],
                update=Update(add_values={"attempts": 1}, remove=["error"]),
            )
        except (InvalidTransition, NotFound):
            return None  # no longer failed (another retry won): not ours to dispatch

    moved = [m for m in _parallel(p, candidates, move) if m is not None]
    if not moved:
        return [], p.runs.get(run_id, consistent=True)
    errors = {c.file_id: c.error for c in candidates}

    def undo(m: FileMove) -> Update:
        return Update(add_values={"attempts": -1}, set_values={"error": errors.get(m.record.file_id)})

    run = _commit(p, run_id, moved, run_sources=RETRY_RUN_SOURCES, undo=undo)
    return moved, run


def _dispatch_moves(p: Pipeline, moves: Sequence[FileMove]) -> None:
    # attempt = 1 + retries so far: the first dispatch is attempt 1.
    p.dispatcher.dispatch(
        [FileMessage(m.record.run_id, m.record.file_id, m.record.location, m.record.attempts + 1) for m in moves]
    )


def run_retry(
    p: Pipeline, *, run_id: str, file_ids: list[str] | None = None, dry_run: bool = False, actor: Actor
) -> RetryResult:
    """Retry the failed files of a run (all, or those of `file_ids` that are failed).

    Each file moves failed -> pending with one conditional write (in parallel for large runs);
    the run commit then moves the run to processing; only after it succeeded is each moved file
    dispatched, exactly once. Refused for cancelled or successful runs.

    A dry run is a read: it lists what would be retried and writes nothing at all, not even an
    audit record (nothing happened that needs accounting for)."""
    if dry_run:
        cleaned = _clean_file_ids(file_ids)
        run = _retryable_run(p, run_id)
        candidates = _retry_candidates(p, run_id, cleaned)
        return RetryResult(len(candidates), [c.file_id for c in candidates], run, dry_run=True)
    moved: list[FileMove] = []
    try:
        cleaned = _clean_file_ids(file_ids)
        run = _retryable_run(p, run_id)
        candidates = _retry_candidates(p, run_id, cleaned)
        moved, run = _retry_moves(p, run_id, candidates)
        if moved:
            _dispatch_moves(p, moved)
    except PipelineError as exc:
        # A dispatch failure happens after the retry took effect: the audit says so.
        outcome = "allowed" if isinstance(exc, DispatchFailed) else "refused"
        _audit(p, actor, action="retry", run_id=run_id, outcome=outcome, error=exc,
               detail={"retried": len(moved)})
        raise
    ids = [m.record.file_id for m in moved]
    _audit(p, actor, action="retry", run_id=run_id, outcome="allowed",
           detail={"retried": len(ids), "requested": None if file_ids is None else len(file_ids)})
    return RetryResult(len(ids), ids, run, dry_run=False)


def file_retry(p: Pipeline, *, file_id: str, actor: Actor) -> FileRecord:
    """Retry one failed file: failed -> pending, run -> processing, dispatched once.
    InvalidTransition when the file is not failed or the run is cancelled or successful."""
    target_id = file_id  # until the file is found, the audit record is filed under its id
    try:
        record = p.files.get(file_id, consistent=True)
        target_id = record.run_id
        _retryable_run(p, record.run_id)
        try:
            move = p.files.move(
                file_id, FileStatus.PENDING, sources=[FileStatus.FAILED],
                update=Update(add_values={"attempts": 1}, remove=["error"]),
            )
        except InvalidTransition as exc:
            raise InvalidTransition(
                f"File {file_id!r} is {exc.current!r}; only failed files can be retried.",
                current=exc.current, target=FileStatus.PENDING.value,
            ) from exc
        _commit(
            p, record.run_id, [move], run_sources=RETRY_RUN_SOURCES,
            undo=lambda _: Update(add_values={"attempts": -1}, set_values={"error": record.error}),
        )
        _dispatch_moves(p, [move])
    except PipelineError as exc:
        _audit(p, actor, action="file_retry", run_id=target_id, target=f"file:{file_id}", outcome="refused",
               error=exc)
        raise
    _audit(p, actor, action="file_retry", run_id=target_id, target=f"file:{file_id}", outcome="allowed",
           detail={"attempts": move.record.attempts})
    return move.record


# --- cancel ------------------------------------------------------------------------------


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise ValidationFailed("reason must be text.", fields={"reason": "must be a string"})
    text = reason.strip()
    if len(text) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            f"reason is longer than {MAX_REASON_LENGTH} characters.", fields={"reason": "too long"}
        )
    if "\x00" in text:
        raise ValidationFailed("reason must not contain NUL characters.", fields={"reason": "invalid character"})
    return text or None


def run_cancel(p: Pipeline, *, run_id: str, reason: str | None, actor: Actor) -> Run:
    """pending | dispatched | processing -> cancelled, recording who, why and when.

    Already cancelled: returned unchanged (idempotent). success/failed: InvalidTransition.
    After this commits, every later file move is compensated (see the module docstring)."""
    noop = False
    try:
        cleaned = _clean_reason(reason)
        now = utc_now()
        try:
            run = p.runs.transition(
                run_id, RunStatus.CANCELLED,
                update=Update(set_values={
                    "cancelledBy": actor.name, "cancelReason": cleaned, "cancelledAt": now, "updatedAt": now,
                }),
            )
        except InvalidTransition as exc:
            if exc.current != RunStatus.CANCELLED.value:
                raise
            run, noop = p.runs.get(run_id, consistent=True), True
    except PipelineError as exc:
        _audit(p, actor, action="cancel", run_id=run_id, outcome="refused", error=exc, reason=reason)
        raise
    _audit(p, actor, action="cancel", run_id=run_id, outcome="allowed", reason=cleaned,
           detail={"noop": noop, "counts": run.counts()})
    return run


# --- reconcile ---------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    run: Run
    before: dict[str, int]
    after: dict[str, int]
    changed: bool


def _stored_counters(run: Run) -> dict[str, int]:
    counts = run.counts()
    return {"resolvedFiles": run.resolved_files, **{FILE_COUNTER[FileStatus(s)]: n for s, n in counts.items()}}


def run_reconcile(p: Pipeline, *, run_id: str, actor: Actor) -> ReconcileResult:
    """Recompute a run's counters from FileTable and roll the run up if every file is terminal.

    This is the one place where a read feeds a write: the delta (exact - stored) is ADDed under
    a condition that the stored counters are still the values read, retried on conflict. A file
    move between its two writes is still invisible to that condition, so reconcile is exact only
    for a quiescent run (no workers or retries in flight), which is when an operator uses it."""
    changed = False
    try:
        run = p.runs.get(run_id, consistent=True)
        before = _stored_counters(run)
        after = before
        for _attempt in range(RECONCILE_ATTEMPTS):
            stored = _stored_counters(run)
            exact = p.files.count_by_status(run_id)
            after = {"resolvedFiles": sum(exact.values()), **{FILE_COUNTER[FileStatus(s)]: n for s, n in exact.items()}}
            deltas = {k: after[k] - stored[k] for k in COUNTERS if after[k] != stored[k]}
            if not deltas:
                break
            try:
                run = p.runs.update(
                    run_id, Update(add_values=deltas, set_values={"updatedAt": utc_now()}), expect_all=stored
                )
                changed = True
                break
            except InvalidTransition:
                run = p.runs.get(run_id, consistent=True)  # counters moved under us: read again
        else:
            raise InvalidTransition(
                f"Run {run_id!r} kept changing while being reconciled; try again when it is quiet.",
                current=run.status.value,
            )
        rolled = _roll_up(p, run)
        changed = changed or rolled.status is not run.status
        run = rolled
    except PipelineError as exc:
        _audit(p, actor, action="reconcile", run_id=run_id, outcome="refused", error=exc)
        raise
    _audit(p, actor, action="reconcile", run_id=run_id, outcome="allowed",
           detail={"before": before, "after": after, "changed": changed, "status": run.status.value})
    return ReconcileResult(run=run, before=before, after=_stored_counters(run), changed=changed)


# --- audit -------------------------------------------------------------------------------


def _audit(
    p: Pipeline,
    actor: Actor,
    *,
    action: str,
    run_id: str,
    outcome: str,
    target: str | None = None,
    reason: str | None = None,
    error: PipelineError | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write the one audit record of an action. A store failure here is logged, not raised:
    the action itself has already taken effect (or been refused) and its answer must stand;
    the structured log line has already been emitted by then."""
    info = dict(detail or {})
    if error is not None:
        info.update({"error": error.code, "message": error.message})
    try:
        p.audit.record(
            target_id=run_id, actor=actor.name, action=action, target=target or f"run:{run_id}",
            outcome="allowed" if outcome == "allowed" else "refused",
            reason=reason if reason is not None else (error.message if error is not None else None),
            detail=info, request_id=actor.request_id,
        )
    except (PipelineError, ClientError):
        logger.exception("audit record of %s on %s could not be stored", action, run_id)
