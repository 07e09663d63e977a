"""DynamoDB repositories for runs and files.

Every status write is one conditional UpdateItem naming the allowed source states and
requiring the item to exist; only ConditionalCheckFailedException becomes a domain error."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .concurrency import TaskPool
from .config import PipelineConfig
from .cursor import CursorCodec
from .dynamo import (
    ABSENT,
    Expr,
    Page,
    Table,
    Update,
    deserialize,
    error_code,
    is_condition_failure,
    readable,
    serialize,
)
from .errors import AlreadyExists, InvalidTransition, NotFound, PipelineError
from .listing import IndexCatalog, Position, RunFilters, RunLister
from .models import Environment, FileRecord, Run
from .schema import (
    FILE_RUN_INDEX,
    FILE_RUN_STATUS_INDEX,
    RUN_DATASET_INDEX,
    page_keys,
    run_table_spec,
)
from .states import FILE_SOURCES, RUN_SOURCES, FileStatus, RunStatus
from .storable import key_fits
from .timeutil import utc_now

logger = logging.getLogger("dataplatform.pipeline")

# The newest run's (createdAt, runId), kept in DatasetTable beside the registry (its own
# partition): a live runs page learns from one BatchGetItem whether anything new exists.
RUNS_HEAD_KEY = {"pk": "RUNS-HEAD", "datasetName": "-"}
# BatchGetItem takes at most 100 keys per call.
BATCH_GET_KEYS = 100


@dataclass(frozen=True)
class FileMove:
    """The outcome of FileRepository.move: the file as written, where it came from, and the
    token that identifies this move (for compensation)."""

    record: FileRecord
    previous: FileStatus
    token: str
    previous_token: str


def _conditional_update(
    table: Table,
    *,
    key_name: str,
    key: str,
    update: Update,
    sources: Iterable[str] | None,
    extra_condition: tuple[str, Any] | None = None,
    expect_all: dict[str, Any] | None = None,
    what: str,
    target: str | None,
) -> dict[str, Any]:
    """One UpdateItem guarded by `attribute_exists(key)` and, when given, `status IN sources`.

    `expect_all` adds `attribute = value` for each pair (a value of 0 also matches an absent
    attribute, so counters that older writers never set compare as zero).

    Returns the new item. A failed condition returns the item as it was
    (ReturnValuesOnConditionCheckFailure=ALL_OLD, no second read) to say why: NotFound when it is
    absent, InvalidTransition carrying the current status otherwise."""
    expr = Expr()
    conditions = [f"attribute_exists({expr.name(key_name)})"]
    if sources is not None:
        allowed = sorted(sources)
        if not allowed:
            raise InvalidTransition(f"No state may move to {target!r}.", current=None, target=target)
        conditions.append(expr.one_of("status", allowed))
    if extra_condition is not None:
        attribute, expected = extra_condition
        conditions.append(f"{expr.name(attribute)} = {expr.value(expected)}")
    for attribute, expected in (expect_all or {}).items():
        equal = f"{expr.name(attribute)} = {expr.value(expected)}"
        if expected == 0:
            equal = f"(attribute_not_exists({expr.name(attribute)}) OR {equal})"
        conditions.append(equal)
    update_expression = expr.update(update.set_values, update.add_values, update.remove, update.copy)
    try:
        response = table.call(
            "update_item",
            Key={key_name: {"S": key}},
            UpdateExpression=update_expression,
            ConditionExpression=" AND ".join(conditions),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **expr.kwargs(),
        )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        old = exc.response.get("Item")
        if not old:
            raise NotFound(f"{what} {key!r} does not exist.") from exc
        status = deserialize(old).get("status")
        raise InvalidTransition(
            f"{what} {key!r} is {status!r}; it cannot move to {target!r}." if target
            else f"{what} {key!r} is {status!r}; the change is not allowed in that state.",
            current=str(status) if status is not None else None,
            target=target,
        ) from exc
    return deserialize(response["Attributes"])


class RunRepository:
    def __init__(
        self, client: Any, config: PipelineConfig, codec: CursorCodec, *, reads: TaskPool | None = None
    ) -> None:
        self.table = Table(client, config.run_table, codec, page_keys(config, config.run_table))
        self.head = Table(client, config.dataset_table, codec)
        assumed = {i.name: (i.hash_key, i.range_key) for i in run_table_spec(config).created_indexes()}
        self.catalog = IndexCatalog(self.table, assumed=assumed)
        self.lister = RunLister(self.table, codec, self.catalog, reads=reads)

    def get(self, run_id: str, *, consistent: bool = False) -> Run:
        """The run; NotFound when absent or when `run_id` cannot be a key at all (too long)."""
        if not key_fits(run_id):
            raise NotFound(f"Run {run_id[:64]!r} does not exist.")
        item = self.table.get({"runId": run_id}, consistent=consistent)
        if item is None:
            raise NotFound(f"Run {run_id!r} does not exist.")
        return Run.from_item(item)

    def create(self, run: Run) -> Run:
        """Put a new run; AlreadyExists when the run id is taken (conditional put)."""
        expr = Expr()
        try:
            self.table.call(
                "put_item",
                Item=serialize(run.to_item()),
                ConditionExpression=f"attribute_not_exists({expr.name('runId')})",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise AlreadyExists(f"Run {run.run_id!r} already exists.") from exc
            raise
        self._advance_head(run)
        return run

    def _advance_head(self, run: Run) -> None:
        """Move the runs head to this run when it is newer (conditional: losing the race to a
        newer run is fine). A failure here never fails the trigger: the run exists."""
        expr = Expr()
        created, ident = expr.name("createdAt"), expr.name("runId")
        at, run_id = expr.value(run.to_item()["createdAt"]), expr.value(run.run_id)
        try:
            self.head.call(
                "update_item",
                Key=serialize(RUNS_HEAD_KEY),
                UpdateExpression=f"SET {created} = {at}, {ident} = {run_id}",
                ConditionExpression=f"attribute_not_exists({created}) OR {created} < {at}",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                logger.warning("runs head not advanced for run %s: %s", run.run_id, error_code(exc))
        except PipelineError as exc:
            logger.warning("runs head not advanced for run %s: %s", run.run_id, exc.message)

    def get_many(
        self, run_ids: Iterable[str], *, with_head: bool = False
    ) -> tuple[dict[str, Run], Position | None]:
        """The runs with these ids (absent ones left out): one BatchGetItem per 100 ids; with
        `with_head`, the newest run's position rides along in the first call."""
        ids = list(dict.fromkeys(run_ids))
        found: dict[str, Run] = {}
        head: Position | None = None
        chunks = [ids[i : i + BATCH_GET_KEYS] for i in range(0, len(ids), BATCH_GET_KEYS)] or [[]]
        for number, chunk in enumerate(chunks):
            request: dict[str, Any] = {}
            if chunk:
                request[self.table.name] = {"Keys": [{"runId": {"S": run_id}} for run_id in chunk]}
            if with_head and number == 0:
                request[self.head.name] = {"Keys": [serialize(RUNS_HEAD_KEY)]}
            if not request:
                continue
            for table, items in self.table.batch_get(request).items():
                if table == self.head.name:
                    for item in items:
                        head = Position(str(item.get("createdAt", "")), str(item.get("runId", "")))
                else:
                    found.update((run.run_id, run) for run in readable(items, Run.from_item))
        return found, head

    def find(self, filters: RunFilters, *, limit: int = 50, cursor: str | None = None) -> Page[Run]:
        """Runs matching `filters` (any combination, none included), newest first (createdAt,
        then runId), complete across pages; listing.py says which index answers which filters."""
        return self.lister.page(filters, limit=limit, cursor=cursor, load=Run.from_item)

    def newer(self, filters: RunFilters, *, than: Position | None, limit: int = 50) -> list[Run]:
        """Runs matching `filters` newer than `than` (a page's first row), newest first."""
        return self.lister.newer(filters, than=than, limit=limit, load=Run.from_item)

    def transition(
        self,
        run_id: str,
        target: RunStatus,
        *,
        sources: Iterable[RunStatus] | None = None,
        update: Update | None = None,
        expect: dict[str, Any] | None = None,
    ) -> Run:
        """Move a run to `target` from one of `sources` (default: the machine's sources);
        `expect` adds attribute equality conditions (e.g. the counters a roll-up observed)."""
        allowed = RUN_SOURCES[target] if sources is None else frozenset(sources)
        parts = update or Update()
        parts.set_values = {"status": target.value, **parts.set_values}
        item = _conditional_update(
            self.table, key_name="runId", key=run_id, update=parts,
            sources=[s.value for s in allowed], expect_all=expect, what="Run", target=target.value,
        )
        return Run.from_item(item)

    def update(
        self,
        run_id: str,
        update: Update,
        *,
        require_status: Iterable[RunStatus] | None = None,
        expect_all: dict[str, Any] | None = None,
    ) -> Run:
        """Atomic counter/attribute update (ADD for counters), optionally guarded by status
        and by attribute values (`expect_all`)."""
        item = _conditional_update(
            self.table, key_name="runId", key=run_id, update=update,
            sources=None if require_status is None else [s.value for s in require_status],
            expect_all=expect_all, what="Run", target=None,
        )
        return Run.from_item(item)

    def by_dataset(
        self,
        dataset_name: str,
        *,
        business_date: str | None = None,
        status: RunStatus | None = None,
        environment: Environment | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Run]:
        """Runs of a dataset (optionally one business date), newest first across pages."""
        filters = RunFilters(dataset_name, business_date, status, environment)
        return self.find(filters, limit=limit, cursor=cursor)

    def by_status(
        self,
        status: RunStatus,
        *,
        dataset_name: str | None = None,
        business_date: str | None = None,
        environment: Environment | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Run]:
        """Runs in one status, newest first across pages."""
        filters = RunFilters(dataset_name, business_date, status, environment)
        return self.find(filters, limit=limit, cursor=cursor)

    def between_dates(self, dataset_name: str, start: str, end: str) -> Iterator[Run]:
        """Every run of a dataset with start <= businessDate <= end: one Query (all pages).
        An item that cannot be read as a run is logged and left out."""
        expr = Expr()
        request: dict[str, Any] = {
            "IndexName": RUN_DATASET_INDEX,
            "KeyConditionExpression": (
                f"{expr.name('datasetName')} = {expr.value(dataset_name)} AND "
                f"{expr.name('businessDate')} BETWEEN {expr.value(start)} AND {expr.value(end)}"
            ),
        }
        request.update(expr.kwargs())
        # A run another tool wrote with values no run can have is left out (and logged): the
        # other runs still count (the evaluator of every dataset and the calendars read here).
        yield from readable(self.table.query_all(request), Run.from_item)


class FileRepository:
    def __init__(
        self, client: Any, config: PipelineConfig, codec: CursorCodec, *, reads: TaskPool | None = None
    ) -> None:
        self.table = Table(client, config.file_table, codec, page_keys(config, config.file_table))
        self.reads = reads if reads is not None else TaskPool(1)
        # Falls back to runId-index + filter on tables that lack our runId-status-index.
        self.has_run_status_index = True

    def get(self, file_id: str, *, consistent: bool = False) -> FileRecord:
        """The file; NotFound when absent or when `file_id` cannot be a key at all (too long)."""
        if not key_fits(file_id):
            raise NotFound(f"File {file_id[:64]!r} does not exist.")
        item = self.table.get({"fileId": file_id}, consistent=consistent)
        if item is None:
            raise NotFound(f"File {file_id!r} does not exist.")
        return FileRecord.from_item(item)

    def put_batch(self, records: list[FileRecord]) -> None:
        """Write files in BatchWriteItem groups of 25, overwriting what exists: only for tools
        that own the items (demo data, tests). Registration uses `create_absent`."""
        self.table.batch_put([r.to_item() for r in records])

    def create_absent(self, records: list[FileRecord], *, pool: TaskPool) -> int:
        """Create each file that does not exist yet; one that exists is left exactly as it is
        (a worker may have moved it). One conditional PutItem (`attribute_not_exists(fileId)`)
        per file, made at once through `pool`: BatchWriteItem cannot carry a condition.
        Returns how many were created."""
        expr = Expr()
        condition = f"attribute_not_exists({expr.name('fileId')})"
        names = expr.kwargs()

        def put(record: FileRecord) -> int:
            try:
                self.table.call("put_item", Item=serialize(record.to_item()), ConditionExpression=condition, **names)
            except ClientError as exc:
                if is_condition_failure(exc):
                    return 0
                raise
            return 1

        return sum(pool.map(put, records))

    def transition(
        self,
        file_id: str,
        target: FileStatus,
        *,
        sources: Iterable[FileStatus] | None = None,
        update: Update | None = None,
        expect: tuple[str, Any] | None = None,
    ) -> FileRecord:
        """Move a file to `target` from one of `sources` (default: the machine's sources)."""
        allowed = FILE_SOURCES[target] if sources is None else frozenset(sources)
        parts = update or Update()
        parts.set_values = {"status": target.value, **parts.set_values}
        item = _conditional_update(
            self.table, key_name="fileId", key=file_id, update=parts,
            sources=[s.value for s in allowed], extra_condition=expect, what="File", target=target.value,
        )
        return FileRecord.from_item(item)

    def move(
        self,
        file_id: str,
        target: FileStatus,
        *,
        sources: Iterable[FileStatus] | None = None,
        update: Update | None = None,
    ) -> FileMove:
        """Step 1 of "file move with run commit": one conditional UpdateItem that moves the
        file, stamps a fresh `moveToken` and copies the old status and token into
        `previousStatus` / `previousMoveToken` in the same write (no read-then-write).

        The returned FileMove says where the file came from and carries what `restore`
        needs to undo exactly this move if the run commit is refused."""
        token = uuid.uuid4().hex
        parts = update or Update()
        parts.set_values = {"lastUpdated": utc_now(), "moveToken": token, **parts.set_values}
        parts.copy = {"previousStatus": "status", "previousMoveToken": "moveToken", **parts.copy}
        parts.set_values = {"status": target.value, **parts.set_values}
        allowed = FILE_SOURCES[target] if sources is None else frozenset(sources)
        item = _conditional_update(
            self.table, key_name="fileId", key=file_id, update=parts,
            sources=[s.value for s in allowed], what="File", target=target.value,
        )
        return FileMove(
            record=FileRecord.from_item(item),
            previous=FileStatus(str(item["previousStatus"])),
            token=token,
            previous_token=str(item.get("previousMoveToken", ABSENT)),
        )

    def restore(self, move: FileMove, *, update: Update | None = None) -> bool:
        """Undo one `move` (compensation): back to the previous status and token, only if the
        file is still where that very move put it (status = target AND moveToken = token).
        False when the file has moved on since (someone else owns it now)."""
        parts = update or Update()
        parts.set_values = {"lastUpdated": utc_now(), "moveToken": move.previous_token, **parts.set_values}
        try:
            self.transition(
                move.record.file_id, move.previous, sources=[move.record.status], update=parts,
                expect=("moveToken", move.token),
            )
        except (InvalidTransition, NotFound):
            return False
        return True

    def _run_request(
        self, run_id: str, status: FileStatus | None, error_message: str | None = None
    ) -> tuple[dict[str, Any], Expr]:
        expr = Expr()
        key = f"{expr.name('runId')} = {expr.value(run_id)}"
        request: dict[str, Any] = {}
        filters: list[str] = []
        if status is not None and self.has_run_status_index:
            request["IndexName"] = FILE_RUN_STATUS_INDEX
            key += f" AND {expr.name('status')} = {expr.value(status.value)}"
        else:
            request["IndexName"] = FILE_RUN_INDEX
            if status is not None:
                filters.append(f"{expr.name('status')} = {expr.value(status.value)}")
        if error_message is not None:
            path = f"{expr.name('error')}.{expr.name('message')}"
            wanted = f"{path} = {expr.value(error_message)}" if error_message else f"attribute_not_exists({path})"
            filters.append(wanted)
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        request["KeyConditionExpression"] = key
        return request, expr

    def _with_index_fallback(self, status: FileStatus | None, call: Any) -> Any:
        try:
            return call()
        except ClientError as exc:
            missing_index = error_code(exc) == "ValidationException" and "index" in str(exc).lower()
            if status is None or not self.has_run_status_index or not missing_index:
                raise
            self.has_run_status_index = False
            return call()

    def by_run(
        self,
        run_id: str,
        *,
        status: FileStatus | None = None,
        error_message: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[FileRecord]:
        """Files of a run, optionally in one status (a direct Query on runId-status-index) and
        with one error message ('' for files whose error has none)."""

        def run() -> Page[FileRecord]:
            request, expr = self._run_request(run_id, status, error_message)
            request.update(expr.kwargs())
            params = {"run": run_id, "status": status, "error": error_message}
            return self.table.query_page(
                kind="files-by-run", params=params, request=request,
                limit=limit, cursor=cursor, load=FileRecord.from_item,
            )

        page: Page[FileRecord] = self._with_index_fallback(status, run)
        return page

    def iter_run(self, run_id: str, *, status: FileStatus | None = None) -> Iterator[FileRecord]:
        """Every file of a run (optionally one status), following every page."""
        request, expr = self._run_request(run_id, status)
        request.update(expr.kwargs())
        try:
            yield from readable(self.table.query_all(request), FileRecord.from_item)
        except ClientError as exc:
            if status is None or not self.has_run_status_index or error_code(exc) != "ValidationException":
                raise
            self.has_run_status_index = False
            yield from self.iter_run(run_id, status=status)

    def redispatch_claim(self, file_id: str, *, idle_before: str, now: str) -> FileRecord | None:
        """Claim a pending file that has not moved since `idle_before` for one more dispatch: one
        conditional UpdateItem (still pending, lastUpdated < idle_before) that stamps lastUpdated
        and counts the attempt. Of concurrent claims exactly one wins; None for the others."""
        expr = Expr()
        last = expr.name("lastUpdated")
        try:
            response = self.table.call(
                "update_item",
                Key={"fileId": {"S": file_id}},
                UpdateExpression=f"SET {last} = {expr.value(now)} ADD {expr.name('attempts')} {expr.value(1)}",
                ConditionExpression=(
                    f"attribute_exists({expr.name('fileId')}) AND {expr.name('status')} = "
                    f"{expr.value(FileStatus.PENDING.value)} AND {last} < {expr.value(idle_before)}"
                ),
                ReturnValues="ALL_NEW",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return FileRecord.from_item(deserialize(response["Attributes"]))

    def count_by_status(self, run_id: str) -> dict[str, int]:
        """Exact per-status counts of a run's files, computed from FileTable.

        With runId-status-index: one Select=COUNT Query per status, made at once (DynamoDB
        still reads the items, but returns only numbers: a fraction of the transfer and
        parsing). Without it:
        the statuses of every file through runId-index."""

        def count(status: FileStatus) -> int:
            request, expr = self._run_request(run_id, status)
            request.update(expr.kwargs())
            return self.table.count(request)

        def counted() -> dict[str, int]:
            statuses = list(FileStatus)
            return {s.value: n for s, n in zip(statuses, self.reads.map(count, statuses), strict=True)}

        if self.has_run_status_index:
            try:
                return counted()
            except ClientError as exc:
                if error_code(exc) != "ValidationException" or "index" not in str(exc).lower():
                    raise
                self.has_run_status_index = False
        counts = {s.value: 0 for s in FileStatus}
        expr = Expr()
        request = {
            "IndexName": FILE_RUN_INDEX,
            "KeyConditionExpression": f"{expr.name('runId')} = {expr.value(run_id)}",
            "ProjectionExpression": f"{expr.name('status')}",
            **expr.kwargs(),
        }
        for item in self.table.query_all(request):
            status = str(item.get("status", ""))
            if status in counts:
                counts[status] += 1
        return counts
