"""Demo data for the embedded default: a dataset registry and 30 business dates of history.

The history is a deterministic function of the day it is loaded for: run ids are
`demo-<dataset>-<yyyymmdd>-<n>` and file ids `<runId>-<nnnnn>`, so loading twice writes
nothing new. Runs are written after their files and only when absent, with counters that
equal the files' statuses (a reconcile changes nothing)."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .datasets import DatasetConfig, expand_templates, expected_dates, parse_dataset
from .errors import AlreadyExists, NotFound
from .models import FileRecord, Run, SourceType
from .states import FILE_COUNTER, FileStatus, RunStatus
from .timeutil import utc_now

if TYPE_CHECKING:
    from .app import Pipeline

HISTORY_DAYS = 30
BIG_RUN_FILES = 10_000
_WRITE_CHUNK = 500  # files per thread-pool task (20 BatchWriteItem calls)

DEMO_DATASETS: list[dict[str, Any]] = [
    {
        "datasetName": "equities-eod",
        "environment": "prod",
        "description": "End-of-day equity prices from the primary exchange feed.",
        "locations": ["s3://demo-market-data/{dataset}/{businessDate}/part-{part:03d}.csv.gz"],
        "parts": 12,
        # NYSE trading days (exchange_calendars): no run on a market holiday such as Thanksgiving.
        "schedule": {
            "timezone": "America/New_York", "calendar": "XNYS", "expectedBy": "16:45", "startGraceMinutes": 30,
            "dueBy": "18:00", "dueGraceMinutes": 15, "stuckAfterMinutes": 30,
        },
    },
    {
        "datasetName": "fx-rates",
        "environment": "prod",
        "description": "Spot, forward and NDF FX rates from the rates vendor's HTTPS API.",
        "locations": [
            "https://rates.example.com/fx/{yyyymmdd}/spot.csv",
            "https://rates.example.com/fx/{yyyymmdd}/forward.csv",
            "https://rates.example.com/fx/{yyyymmdd}/ndf.csv",
        ],
        # London close: due times move by an hour in UTC across the daylight-saving changes.
        "schedule": {
            "timezone": "Europe/London", "holidays": "GB-ENG", "expectedBy": "16:30", "startGraceMinutes": 20,
            "dueBy": "17:15", "dueGraceMinutes": 15, "stuckAfterMinutes": 30,
        },
    },
    {
        "datasetName": "credit-ratings",
        "environment": "staging",
        "description": "Issuer credit ratings snapshot, delivered the next morning.",
        "locations": ["s3://demo-reference-data/ratings/{yyyy}/{mm}/{dd}/ratings-{part:02d}.parquet"],
        "parts": 6,
        "schedule": {
            "weekdays": [0, 1, 2, 3, 4], "expectedBy": "04:00", "startGraceMinutes": 60, "dueBy": "06:00",
            "dueDayOffset": 1, "dueGraceMinutes": 30, "stuckAfterMinutes": 45,
        },
    },
    {
        "datasetName": "macro-indicators",
        "environment": "prod",
        "description": "Weekly macroeconomic indicator series (published on Mondays).",
        "locations": ["https://stats.example.org/api/v2/{dataset}/{businessDate}/series-{part}.json"],
        "parts": 4,
        "schedule": {
            "timezone": "Europe/Berlin", "weekdays": [0], "expectedBy": "10:00", "startGraceMinutes": 60,
            "dueBy": "12:00", "dueGraceMinutes": 30, "stuckAfterMinutes": 60,
        },
    },
    {
        "datasetName": "bond-prices",
        "environment": "prod",
        "description": "Evaluated bond prices, one file per pricing batch.",
        "locations": ["s3://demo-market-data/{dataset}/{yyyymmdd}/prices-{part:04d}.csv"],
        "parts": 8,
        "schedule": {
            "timezone": "America/New_York", "holidays": "US", "expectedBy": "15:30", "startGraceMinutes": 30,
            "dueBy": "17:00", "dueGraceMinutes": 15, "stuckAfterMinutes": 30,
        },
    },
    {
        "datasetName": "crypto-prices",
        "environment": "prod",
        "description": "Daily close of the crypto spot markets, which trade every day of the week.",
        "locations": ["https://api.exchange.example.com/v1/close/{businessDate}/batch-{part}.json"],
        "parts": 4,
        # Every day, weekends too: the simulator (which triggers only what a schedule expects)
        # keeps the demo moving on Saturdays and Sundays.
        "schedule": {
            "timezone": "UTC", "weekdays": [0, 1, 2, 3, 4, 5, 6], "expectedBy": "00:30", "startGraceMinutes": 30,
            "dueBy": "02:00", "dueDayOffset": 1, "dueGraceMinutes": 30, "stuckAfterMinutes": 30,
        },
    },
]

# Realistic worker errors, by the stage that failed.
FILE_ERRORS: list[dict[str, Any]] = [
    {"stage": "fetch", "code": "SourceNotFound", "message": "Source returned 404 Not Found", "httpStatus": 404},
    {"stage": "fetch", "code": "Timeout", "message": "Read timed out after 30 s", "retryable": True},
    {"stage": "verify", "code": "ChecksumMismatch", "message": "SHA-256 differs from the vendor manifest"},
    {"stage": "verify", "code": "EmptyFile", "message": "File is 0 bytes"},
    {"stage": "preprocess", "code": "SchemaValidationError", "message": "Column 'close_px' is missing"},
    {"stage": "preprocess", "code": "ParseError", "message": "Unexpected delimiter on line 48213"},
]
OPERATORS = ("ops.jane", "ops.kumar", "ops.li")


def demo_configs() -> list[DatasetConfig]:
    """The demo registry, validated like any loaded file."""
    return [parse_dataset(entry) for entry in DEMO_DATASETS]


@dataclass
class PlannedRun:
    run: Run
    files: list[FileRecord]


@dataclass
class DemoPlan:
    datasets: list[DatasetConfig]
    runs: list[PlannedRun]
    missing: list[tuple[str, date]]
    big_run_id: str

    def registrations(self) -> dict[str, datetime]:
        """When each dataset counts as registered: the start (in its own timezone) of its first
        business date with history, so the evaluator watches every demo day (an ordinary
        registration only watches from the day it happens) and nothing shows as missing before
        a dataset's history (weekly datasets go back months, daily ones weeks)."""
        first: dict[str, date] = {}
        for planned in self.runs:
            name, day = planned.run.dataset_name, planned.run.business_date
            first[name] = min(first.get(name, day), day)
        for name, day in self.missing:
            first[name] = min(first.get(name, day), day)
        out: dict[str, datetime] = {}
        for config in self.datasets:
            if config.dataset_name in first:
                zone = ZoneInfo(config.schedule.timezone if config.schedule else "UTC")
                out[config.dataset_name] = datetime.combine(first[config.dataset_name], time(), zone).astimezone(UTC)
        return out


@dataclass
class DemoLoadResult:
    datasets_written: int = 0
    runs_created: int = 0
    runs_skipped: int = 0
    files_written: int = 0
    run_statuses: Counter[str] = field(default_factory=Counter)
    file_statuses: Counter[str] = field(default_factory=Counter)
    missing: list[tuple[str, date]] = field(default_factory=list)
    big_run_id: str = ""


def _checksum(file_id: str) -> str:
    return "sha256:" + hashlib.sha256(file_id.encode()).hexdigest()


def _settle_seconds(day: date) -> int:
    """How long a run's files take to settle: runs start 25-90 min before their due time and
    usually finish within 20 min (on time); one business date in nine is slow (up to 3 h: late)."""
    return 3 * 3600 if day.toordinal() % 9 == 0 else 20 * 60


def _make_file(
    run: Run, index: int, location: str, status: FileStatus, rng: random.Random, now: datetime
) -> FileRecord:
    file_id = f"{run.run_id}-{index:05d}"
    updated = run.created_at + timedelta(seconds=rng.randint(20, _settle_seconds(run.business_date)))
    data: dict[str, Any] = {
        "fileId": file_id,
        "runId": run.run_id,
        "datasetName": run.dataset_name,
        "businessDate": run.business_date,
        "environment": run.environment,
        "location": location,
        "status": status,
        "lastUpdated": min(updated, now),
        "attempts": 0,
    }
    if status is not FileStatus.PENDING:
        data["fileSize"] = rng.randint(40_000, 250_000_000)
    if status in (FileStatus.VERIFIED, FileStatus.PREPROCESSED):
        data["checksum"] = _checksum(file_id)
    if status is FileStatus.PREPROCESSED:
        data["metadata"] = {"rowCount": rng.randint(1_000, 2_000_000), "worker": f"preprocessor-{rng.randint(1, 8)}"}
    if status is FileStatus.FAILED:
        error = dict(rng.choice(FILE_ERRORS))
        error["at"] = data["lastUpdated"].isoformat()
        data["error"] = error
        data["attempts"] = rng.choice([0, 0, 1, 2])
        if error["stage"] == "fetch":
            data.pop("fileSize", None)
    return FileRecord.model_validate(data)


def _statuses_for(status: RunStatus, total: int, rng: random.Random) -> list[FileStatus]:
    """File statuses that fit a run in `status` (a processing run still has work to do)."""
    done = FileStatus.PREPROCESSED
    if status is RunStatus.SUCCESS:
        return [done] * total
    if status in (RunStatus.PENDING, RunStatus.DISPATCHED):
        return [FileStatus.PENDING] * total
    if status is RunStatus.FAILED:
        failed = min(total - 1, rng.randint(1, 3)) if total > 1 else 1
        out = [FileStatus.FAILED] * failed + [done] * (total - failed)
    elif status is RunStatus.CANCELLED:
        # Cancelled half-way: some finished, the rest never got past fetch.
        finished = total // 2
        rest = [rng.choice([FileStatus.PENDING, FileStatus.FETCHED]) for _ in range(total - finished)]
        out = [done] * finished + rest
    else:  # processing: at least one file of every status
        base = [FileStatus.PENDING, FileStatus.FETCHED, FileStatus.VERIFIED, FileStatus.FAILED]
        out = base + [done] * max(0, total - len(base))
        out = out[:total]
    rng.shuffle(out)
    return out


def _source(config: DatasetConfig, day: date, rerun: bool) -> tuple[SourceType, dict[str, Any]]:
    if rerun:
        return SourceType.MANUAL, {"requestedBy": OPERATORS[day.toordinal() % len(OPERATORS)], "reason": "rerun"}
    if config.dataset_name == "equities-eod":
        order = hashlib.sha256(day.isoformat().encode()).hexdigest()[:6].upper()
        return SourceType.CONTROL_M, {"jobName": "EQ_EOD_LOAD", "orderId": order, "endedStatus": "ENDED_OK"}
    if config.locations[0].startswith("s3://"):
        bucket = config.locations[0].split("/")[2]
        key = f"{config.dataset_name}/{day:%Y%m%d}/_SUCCESS"
        return SourceType.S3, {"eventName": "ObjectCreated:Put", "bucket": bucket, "key": key}
    return SourceType.INTERNAL, {"scheduler": "demo-cron", "rule": f"{config.dataset_name}-daily"}


def _make_run(
    config: DatasetConfig,
    day: date,
    seq: int,
    status: RunStatus,
    created: datetime,
    locations: list[str],
    rng: random.Random,
    now: datetime,
    *,
    statuses: list[FileStatus] | None = None,
    source: tuple[SourceType, dict[str, Any]] | None = None,
) -> PlannedRun:
    run_id = f"demo-{config.dataset_name}-{day:%Y%m%d}-{seq}"
    source_type, trigger = source or _source(config, day, rerun=seq > 1)
    run = Run.model_validate(
        {
            "runId": run_id,
            "datasetName": config.dataset_name,
            "businessDate": day,
            "sourceType": source_type,
            "sourceTrigger": trigger,
            "createdAt": created,
            "status": RunStatus.PENDING,
            "environment": config.environment,
            "metadata": {"demo": True},
        }
    )
    file_statuses = statuses or _statuses_for(status, len(locations), rng)
    files = [
        _make_file(run, i, location, file_status, rng, now)
        for i, (location, file_status) in enumerate(zip(locations, file_statuses, strict=True))
    ]
    counts = Counter(f.status for f in files)
    values: dict[str, Any] = {
        "status": status,
        "resolvedFiles": len(files),
        "updatedAt": max([created, *(f.last_updated for f in files)]),
    }
    for file_status, attribute in FILE_COUNTER.items():
        values[attribute] = counts.get(file_status, 0)
    if status is RunStatus.FAILED:
        failed = counts.get(FileStatus.FAILED, 0)
        values["error"] = {"message": f"{failed} of {len(files)} files failed", "failedFiles": failed}
    if status is RunStatus.CANCELLED:
        values["cancelledBy"] = rng.choice(OPERATORS)
        values["cancelledAt"] = values["updatedAt"]
        values["cancelReason"] = "Vendor republished the file set; superseded by a rerun"
    run = Run.model_validate({**run.model_dump(by_alias=True), **values})
    return PlannedRun(run=run, files=files)


def _created_at(config: DatasetConfig, day: date, now: datetime, rng: random.Random) -> datetime:
    """A start time before the dataset's due time, never in the future."""
    due = config.schedule.due_at(day) if config.schedule else datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    created = due - timedelta(minutes=rng.randint(25, 90), seconds=rng.randint(0, 59))
    # When the due time is still ahead (today), the run started a while ago and is still going.
    latest = now - timedelta(minutes=rng.randint(60, 150))
    return min(created, latest)


# The newest business date of each dataset shows something still happening.
_NEWEST_STATUS = {
    "equities-eod": RunStatus.PROCESSING,
    "fx-rates": RunStatus.DISPATCHED,
    "credit-ratings": RunStatus.PENDING,
    "macro-indicators": RunStatus.SUCCESS,
    "bond-prices": RunStatus.FAILED,  # followed by the 10,000-file rerun, still processing
}


def build_plan(today: date | None = None, now: datetime | None = None) -> DemoPlan:
    """The whole demo history for the 30 most recent scheduled dates up to `today`."""
    now = now or utc_now()
    today = today or now.date()
    configs = demo_configs()
    runs: list[PlannedRun] = []
    missing: list[tuple[str, date]] = []
    big_run_id = ""
    for config in configs:
        # Demo data, not security: a str seed gives the same history in every process.
        rng = random.Random(f"demo:{config.dataset_name}")  # noqa: S311
        # Enough calendar days to find 30 scheduled ones (weekly datasets need ~30 weeks).
        dates = expected_dates(config, today - timedelta(days=HISTORY_DAYS * 7 + 7), today)[-HISTORY_DAYS:]
        missing_slots = set(rng.sample(range(2, HISTORY_DAYS - 3), 2))
        for index, day in enumerate(dates):
            newest = index == len(dates) - 1
            if index in missing_slots:
                missing.append((config.dataset_name, day))
                continue
            locations = expand_templates(config, day)
            created = _created_at(config, day, now, rng)
            if newest:
                status = _NEWEST_STATUS.get(config.dataset_name, RunStatus.SUCCESS)
            elif index == len(dates) - 2 and config.dataset_name == "equities-eod":
                status = RunStatus.CANCELLED
            else:
                status = rng.choices(
                    [RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED], weights=[85, 11, 4]
                )[0]
            runs.append(_make_run(config, day, 1, status, created, locations, rng, now))
            if status is RunStatus.FAILED and not newest and rng.random() < 0.5:
                # An operator reran the failed date later the same day and it went through.
                rerun_at = min(created + timedelta(hours=2), now - timedelta(minutes=2))
                runs.append(_make_run(config, day, 2, RunStatus.SUCCESS, rerun_at, locations, rng, now))
            if newest and config.dataset_name == "bond-prices":
                big_at = min(created + timedelta(minutes=40), now - timedelta(minutes=1))
                big = _big_run(config, day, big_at, rng, now)
                big_run_id = big.run.run_id
                runs.append(big)
    return DemoPlan(datasets=configs, runs=runs, missing=missing, big_run_id=big_run_id)


def _big_run(config: DatasetConfig, day: date, created: datetime, rng: random.Random, now: datetime) -> PlannedRun:
    """A 10,000-file manual rerun, mostly preprocessed, some failed and some still moving."""
    mix = {FileStatus.FAILED: 137, FileStatus.PENDING: 250, FileStatus.FETCHED: 121, FileStatus.VERIFIED: 80}
    mix[FileStatus.PREPROCESSED] = BIG_RUN_FILES - sum(mix.values())
    statuses = [status for status, n in mix.items() for _ in range(n)]
    rng.shuffle(statuses)
    locations = [
        f"s3://demo-market-data/{config.dataset_name}/{day:%Y%m%d}/universe/isin-batch-{i:05d}.csv"
        for i in range(BIG_RUN_FILES)
    ]
    source = (SourceType.MANUAL, {"requestedBy": "ops.kumar", "reason": "full universe reload", "files": "explicit"})
    return _make_run(
        config, day, 2, RunStatus.PROCESSING, created, locations, rng, now, statuses=statuses, source=source
    )


def load_demo(
    p: Pipeline,
    *,
    today: date | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoLoadResult:
    """Write the demo registry and history through the repositories; skips what exists."""
    say = progress or (lambda _message: None)
    plan = build_plan(today, now)
    result = DemoLoadResult(missing=plan.missing, big_run_id=plan.big_run_id)

    registrations = plan.registrations()
    known = p.datasets.registrations()
    for config in plan.datasets:
        if config.dataset_name not in known:
            p.datasets.register(config.dataset_name, registrations.get(config.dataset_name, now or utc_now()))
    changed = []
    for config in plan.datasets:
        try:
            if p.datasets.get(config.dataset_name) == config:
                continue
        except NotFound:
            pass
        changed.append(config)
    if changed:
        result.datasets_written = p.datasets.put_many(changed)
    say(f"datasets: {result.datasets_written} written, {len(plan.datasets) - len(changed)} unchanged")

    with ThreadPoolExecutor(max_workers=max(4, p.config.worker_threads)) as pool:

        def absent(planned: PlannedRun) -> bool:
            try:
                p.runs.get(planned.run.run_id)
            except NotFound:
                return True
            return False

        todo = [planned for planned, missing in zip(plan.runs, pool.map(absent, plan.runs), strict=True) if missing]
        result.runs_skipped = len(plan.runs) - len(todo)
        # Files first, then the run: a run that exists always has all of its files.
        chunks = [
            planned.files[start : start + _WRITE_CHUNK]
            for planned in todo
            for start in range(0, len(planned.files), _WRITE_CHUNK)
        ]
        list(pool.map(p.files.put_batch, chunks))
        result.files_written = sum(len(planned.files) for planned in todo)

        def create(planned: PlannedRun) -> bool:
            try:
                p.runs.create(planned.run)
            except AlreadyExists:
                return False  # a concurrent load got there first; same content
            return True

        result.runs_created = sum(pool.map(create, todo))

    for planned in plan.runs:
        result.run_statuses[planned.run.status.value] += 1
        for record in planned.files:
            result.file_statuses[record.status.value] += 1
    say(
        f"runs: {result.runs_created} created, {result.runs_skipped} already present; "
        f"files written: {result.files_written}"
    )
    return result
