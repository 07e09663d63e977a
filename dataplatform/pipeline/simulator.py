"""The embedded pipeline simulator: keeps the local dashboard alive.

It triggers runs of the registered demo datasets for today's business date (in each
dataset's own timezone) through
`services.run_trigger`, and plays the preprocessor workers: each file goes
pending -> fetched -> verified -> preprocessed through `services.file_report` (the very call
the worker Lambdas make), with small random delays; a share of files fails at a random stage
with a realistic error.

Now and then it misbehaves like a real pipeline, so the evaluator has real alerts to raise and
resolve: a dataset is not triggered at all on some business dates (`miss_rate`, a missing
alert until an operator triggers it), and some runs it triggers are left alone by the workers
for `stuck_minutes` before they resume (`stuck_rate`, a stuck alert that opens and resolves).
Both decisions are a hash of the seed, so a seeded simulator misbehaves the same way every
time; `once` mode never misbehaves.

Work comes from the local dispatcher's queue (files dispatched in this process) and, when
that is empty, from a sweep of the files of in-flight runs (runs triggered by another process,
e.g. the web app, or loaded as demo data). Everything stops cleanly when `stop()` is called
(the `simulate` command wires SIGINT/SIGTERM to it)."""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from .datasets import Schedule
from .demo import DEMO_DATASETS, FILE_ERRORS
from .dispatch import LocalDispatcher
from .errors import InvalidTransition, NotFound, PipelineError, StoreUnavailable
from .models import FileRecord
from .services import Actor, file_report, run_trigger
from .states import RUN_IN_FLIGHT, FileStatus, RunStatus
from .timeutil import utc_now

if TYPE_CHECKING:
    from .app import Pipeline

logger = logging.getLogger("dataplatform.simulator")

ACTOR = Actor(name="simulator", roles=("pipeline",))
# The worker path of a file; the simulator reports each next step.
NEXT_STEP = {
    FileStatus.PENDING: FileStatus.FETCHED,
    FileStatus.FETCHED: FileStatus.VERIFIED,
    FileStatus.VERIFIED: FileStatus.PREPROCESSED,
}
_STAGE = {FileStatus.FETCHED: "fetch", FileStatus.VERIFIED: "verify", FileStatus.PREPROCESSED: "preprocess"}
_SWEEP_RUN_STATUSES = (RunStatus.DISPATCHED, RunStatus.PROCESSING)


@dataclass(frozen=True)
class SimulatorOptions:
    """interval: seconds between two triggers; failure_rate: probability that a file fails
    (0.1 = one file in ten); max_seconds: stop after this long (None: until stopped);
    once: trigger each dataset once and stop when those runs are finished; miss_rate:
    probability that a dataset is not triggered on a business date; stuck_rate: probability
    that a triggered run is left without progress for stuck_minutes."""

    interval: float = 15.0
    failure_rate: float = 0.05
    max_seconds: float | None = None
    once: bool = False
    workers: int = 4
    step_delay: tuple[float, float] = (0.3, 1.5)
    sweep_every: float = 3.0
    sweep_limit: int = 50
    datasets: tuple[str, ...] | None = None
    seed: int | None = None
    miss_rate: float = 0.1
    stuck_rate: float = 0.1
    stuck_minutes: float = 75.0

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("interval must be positive")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if not (0.0 <= self.miss_rate <= 1.0 and 0.0 <= self.stuck_rate <= 1.0):
            raise ValueError("miss_rate and stuck_rate must be between 0 and 1")
        if self.stuck_minutes <= 0:
            raise ValueError("stuck_minutes must be positive")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError("max_seconds must be positive")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        low, high = self.step_delay
        if low < 0 or high < low:
            raise ValueError("step_delay must be (low, high) with 0 <= low <= high")


@dataclass
class SimulatorStats:
    triggered: list[str] = field(default_factory=list)
    reports: int = 0
    failed_files: int = 0
    refused: int = 0
    errors: int = 0
    skipped_triggers: int = 0
    missed: list[str] = field(default_factory=list)  # "dataset@date" never triggered on purpose
    held: list[str] = field(default_factory=list)  # run ids left stuck on purpose

    def summary(self) -> str:
        return (
            f"{len(self.triggered)} run(s) triggered, {self.reports} file report(s), "
            f"{self.failed_files} file failure(s), {self.refused} refused report(s), {self.errors} error(s)"
        )


class Simulator:
    """Triggers runs and plays the workers until stopped, out of time, or (once) done."""

    def __init__(
        self,
        p: Pipeline,
        options: SimulatorOptions | None = None,
        *,
        today: Callable[[], date] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.p = p
        self.options = options or SimulatorOptions()
        self.stats = SimulatorStats()
        self._today = today  # None: each dataset's today in its schedule's timezone
        self._schedules: dict[str, Schedule | None] = {}
        self._log = log or logger.info
        self._stop = threading.Event()
        # Set by request_stop (signal handlers), acted on by the main loop.
        self._stop_requested: str | None = None
        self._work: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._claimed: set[str] = set()  # file ids queued or being worked on
        self._rng = random.Random(self.options.seed)  # noqa: S311 - simulation, not security
        self._dataset_cursor = 0
        self._held_until: dict[str, float] = {}  # run id -> monotonic time the workers resume
        self._off_days: set[str] = set()  # "dataset@date" its schedule expects no run on (logged once)

    # --- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask every loop to finish (from another thread; signal handlers use request_stop)."""
        self._stop.set()

    def request_stop(self, reason: str) -> None:
        """Ask every loop to finish, from a signal handler. A handler runs between two bytecodes
        of the main thread, which may be holding the stop event's lock (inside `wait`) or
        stdout's: setting the event or logging here could deadlock. So this only records the
        request; the main loop logs `reason` and stops within 50 ms."""
        self._stop_requested = reason

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> SimulatorStats:
        """Block until stopped, `max_seconds` elapsed, or (once) the triggered runs finished."""
        deadline = None if self.options.max_seconds is None else time.monotonic() + self.options.max_seconds
        workers = [
            threading.Thread(target=self._worker, args=(self._rng.random(),), name=f"sim-worker-{i}", daemon=True)
            for i in range(self.options.workers)
        ]
        for thread in workers:
            thread.start()
        try:
            self._loop(deadline)
        finally:
            self._stop.set()
            for thread in workers:
                thread.join(timeout=10)
        self._log(f"simulator stopped: {self.stats.summary()}")
        return self.stats

    def _loop(self, deadline: float | None) -> None:
        names = self.dataset_names()
        if not names:
            self._log("no demo datasets are registered (run load_demo); only advancing in-flight runs")
        next_trigger = time.monotonic()
        last_sweep = 0.0
        once_pending = list(names) if self.options.once else []
        while not self._stop.is_set():
            if self._stop_requested is not None:
                self._log(f"{self._stop_requested}; stopping the simulator")
                return
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if self.options.once:
                while once_pending and not self._stop.is_set():
                    self._trigger(once_pending.pop(0), force=True)
                if self._once_done():
                    return
            elif names and now >= next_trigger:
                self._trigger(self._next_dataset(names), force=False)
                next_trigger = now + self.options.interval
            self._pump_dispatcher()
            if self._work.empty() and now - last_sweep >= self.options.sweep_every:
                self._sweep()
                last_sweep = time.monotonic()
            self._stop.wait(0.05)

    def _once_done(self) -> bool:
        with self._lock:
            busy = bool(self._claimed)
        if busy or not self._work.empty():
            return False
        for run_id in self.stats.triggered:
            try:
                if self.p.runs.get(run_id, consistent=True).status in RUN_IN_FLIGHT:
                    return False
            except NotFound:
                continue
        return True

    # --- triggering ----------------------------------------------------------------------

    def dataset_names(self) -> list[str]:
        """The datasets to trigger: the option, or every registered demo dataset."""
        if self.options.datasets is not None:
            return list(self.options.datasets)
        demo = {entry["datasetName"] for entry in DEMO_DATASETS}
        try:
            configs = self.p.datasets.all()
        except PipelineError as exc:
            self._log(f"could not read the dataset registry: {exc.message}")
            return []
        self._schedules.update({config.dataset_name: config.schedule for config in configs})
        return [config.dataset_name for config in configs if config.dataset_name in demo]

    def schedule(self, dataset: str) -> Schedule | None:
        """The dataset's schedule (read once; None when unregistered or without one)."""
        if dataset not in self._schedules:
            try:
                self._schedules[dataset] = self.p.datasets.get(dataset).schedule
            except NotFound:
                self._schedules[dataset] = None
            except PipelineError as exc:
                self._log(f"could not read the schedule of {dataset}: {exc.message}")
                return None  # not cached: the next trigger asks again
        return self._schedules[dataset]

    def business_date(self, dataset: str) -> date:
        """Today for `dataset`: in its schedule's timezone (a New York dataset is still on
        yesterday at 02:00 UTC), UTC without a schedule; the `today` override wins."""
        if self._today is not None:
            return self._today()
        schedule = self.schedule(dataset)
        return schedule.local_date(utc_now()) if schedule is not None else utc_now().date()

    def _next_dataset(self, names: list[str]) -> str:
        name = names[self._dataset_cursor % len(names)]
        self._dataset_cursor += 1
        return name

    def _chance(self, *parts: str) -> float:
        """A number in [0, 1) fixed by the seed and `parts` (the same in every process)."""
        digest = hashlib.sha256(":".join([str(self.options.seed), *parts]).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def misses(self, dataset: str, day: str) -> bool:
        """True when the simulator deliberately never triggers `dataset` on business date `day`."""
        return not self.options.once and self._chance("miss", dataset, day) < self.options.miss_rate

    def holds(self, dataset: str, day: str, sequence: int) -> bool:
        """True when the `sequence`-th trigger (of `dataset` for `day`) is left stuck for a while."""
        return not self.options.once and self._chance("stuck", dataset, day, str(sequence)) < self.options.stuck_rate

    def _held(self, run_id: str) -> bool:
        until = self._held_until.get(run_id)
        if until is None:
            return False
        if time.monotonic() >= until:
            with self._lock:
                self._held_until.pop(run_id, None)
            self._log(f"{run_id} resumes after being held")
            return False
        return True

    def _trigger(self, dataset: str, *, force: bool) -> str | None:
        """Trigger one run of `dataset` for today, unless (not forced) one is still moving, its
        schedule expects no run today (weekend, holiday, exchange closed) or today is a day this
        dataset is missed on purpose."""
        day = self.business_date(dataset)
        today = day.isoformat()
        schedule = self.schedule(dataset)
        if not force and schedule is not None and not schedule.is_business_day(day):
            key = f"{dataset}@{today}"
            if key not in self._off_days:
                self._off_days.add(key)
                self._log(f"no run of {dataset} for {today}: {schedule.closure(day)} (its schedule expects none)")
            self.stats.skipped_triggers += 1
            return None
        if not force and self.misses(dataset, today):
            key = f"{dataset}@{today}"
            if key not in self.stats.missed:
                self.stats.missed.append(key)
                self._log(f"missing {dataset} for {today} on purpose (no run will be triggered)")
            self.stats.skipped_triggers += 1
            return None
        try:
            if not force:
                recent = self.p.runs.by_dataset(dataset, business_date=today, limit=20).items
                if any(run.status in _SWEEP_RUN_STATUSES for run in recent):
                    self.stats.skipped_triggers += 1
                    return None
            result = run_trigger(
                self.p,
                request={
                    "datasetName": dataset,
                    "businessDate": today,
                    "sourceType": "internal",
                    "sourceTrigger": {"scheduler": "simulator", "tick": len(self.stats.triggered) + 1},
                    "metadata": {"simulated": True},
                    # Unique per trigger: the simulator wants a new run each time.
                    "idempotencyKey": f"simulator-{uuid.uuid4().hex}",
                },
                actor=ACTOR,
            )
        except PipelineError as exc:
            self.stats.errors += 1
            self._log(f"trigger of {dataset} failed: {exc.message}")
            return None
        run = result.run
        self.stats.triggered.append(run.run_id)
        self._log(f"triggered {run.run_id} ({run.resolved_files} files, {run.status.value})")
        if not force and self.holds(dataset, today, len(self.stats.triggered)):
            with self._lock:
                self._held_until[run.run_id] = time.monotonic() + self.options.stuck_minutes * 60
            self.stats.held.append(run.run_id)
            self._log(f"holding {run.run_id} without progress for {self.options.stuck_minutes:g} min")
        return run.run_id

    # --- finding work --------------------------------------------------------------------

    def _claim(self, file_id: str) -> None:
        with self._lock:
            if file_id in self._claimed:
                return
            self._claimed.add(file_id)
        self._work.put(file_id)

    def _release(self, file_id: str) -> None:
        with self._lock:
            self._claimed.discard(file_id)

    def _pump_dispatcher(self) -> None:
        dispatcher = self.p.dispatcher
        if isinstance(dispatcher, LocalDispatcher):
            for message in dispatcher.drain(max_items=500):
                self._claim(message.file_id)

    def _sweep(self) -> None:
        """Queue up to `sweep_limit` unfinished files of in-flight runs (index Queries only)."""
        budget = self.options.sweep_limit
        try:
            for run_status in _SWEEP_RUN_STATUSES:
                for run in self.p.runs.by_status(run_status, limit=25).items:
                    if self._held(run.run_id):
                        continue
                    for file_status in NEXT_STEP:
                        if budget <= 0:
                            return
                        page = self.p.files.by_run(run.run_id, status=file_status, limit=budget)
                        for record in page.items:
                            self._claim(record.file_id)
                            budget -= 1
        except PipelineError as exc:
            self._log(f"sweep failed: {exc.message}")

    # --- playing the workers -------------------------------------------------------------

    def _worker(self, seed: float) -> None:
        rng = random.Random(seed)  # noqa: S311 - simulation, not security
        while not self._stop.is_set():
            try:
                file_id = self._work.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self._advance(file_id, rng)
            except StoreUnavailable as exc:
                self._count_error()
                self._log(f"store unavailable while advancing {file_id}: {exc.message}")
                self._stop.wait(1.0)
            except Exception:
                # A simulator bug must not kill the worker thread; it is logged and counted.
                self._count_error()
                logger.exception("simulator worker failed on %s", file_id)
            finally:
                self._release(file_id)

    def _count_error(self) -> None:
        with self._lock:
            self.stats.errors += 1

    def _fails(self, rng: random.Random) -> FileStatus | None:
        """The step at which this file fails, or None."""
        if rng.random() >= self.options.failure_rate:
            return None
        return rng.choice(list(_STAGE))

    def _delay(self, rng: random.Random) -> bool:
        low, high = self.options.step_delay
        return not self._stop.wait(rng.uniform(low, high))

    def _advance(self, file_id: str, rng: random.Random) -> None:
        """Report each next step of one file until it is terminal or refused."""
        try:
            record = self.p.files.get(file_id, consistent=True)
        except NotFound:
            return
        if self._held(record.run_id):
            return  # left alone on purpose; a sweep picks it up once the hold ends
        failing_at = self._fails(rng)
        while record.status in NEXT_STEP:
            if not self._delay(rng):
                return
            target = NEXT_STEP[record.status]
            try:
                if target == failing_at:
                    record = self._report(record, FileStatus.FAILED, error=self._error(target, rng))
                    with self._lock:
                        self.stats.failed_files += 1
                else:
                    record = self._report(record, target, **self._details(record, target, rng))
            except (InvalidTransition, NotFound):
                # The run was cancelled or finished, or someone else moved the file: not ours any more.
                with self._lock:
                    self.stats.refused += 1
                return

    def _report(self, record: FileRecord, status: FileStatus, **fields: Any) -> FileRecord:
        moved = file_report(self.p, file_id=record.file_id, status=status, actor=ACTOR, **fields)
        with self._lock:
            self.stats.reports += 1
        return moved

    @staticmethod
    def _details(record: FileRecord, target: FileStatus, rng: random.Random) -> dict[str, Any]:
        if target is FileStatus.FETCHED:
            return {"file_size": rng.randint(20_000, 400_000_000)}
        if target is FileStatus.VERIFIED:
            return {"checksum": "sha256:" + hashlib.sha256(record.file_id.encode()).hexdigest()}
        return {}

    @staticmethod
    def _error(target: FileStatus, rng: random.Random) -> dict[str, Any]:
        stage = _STAGE[target]
        choices = [e for e in FILE_ERRORS if e["stage"] == stage] or FILE_ERRORS
        error = dict(rng.choice(choices))
        error["at"] = utc_now().isoformat()
        error["worker"] = f"simulator-{threading.current_thread().name}"
        return error
