"""The alert evaluator: one tick turns expectations into alert episodes (SPEC section 9).

A tick, as of an instant `now`:

1. reads the registry and the registrations (two Queries; a scheduled dataset without a
   registration record, stored before they existed, is registered at `now`, so upgrading never
   pages anyone about history);
2. reads the runs of each scheduled dataset over the window (one Query per dataset: the last
   `window_days` business dates in the dataset's timezone), plus one Query per (dataset, date)
   of an active episode older than the window, so an old episode still resolves;
3. reconciles a bounded number of runs (`reconcile_budget`): those that ended since the last
   tick, then in-flight runs quiet for `QUIET_MINUTES`, round robin across ticks
   (`services.run_reconcile`: exact counters from FileTable, and the roll-up a lost counter
   update had blocked);
4. derives the expectations (`expectations.expectation_for`) and the alert conditions that hold;
5. reads the active episodes (Query by state open and acknowledged) and opens the episodes
   whose condition holds and that are not active, resolves the active ones whose condition no
   longer holds (`AlertRepository.open` / `resolve`: conditional transactions, so any number
   of concurrent evaluators open and resolve each episode exactly once; a refused condition
   means another evaluator did it);
6. writes the metrics snapshot and the heartbeat (unless a tick of a later instant already
   did), then calls `deliver(pipeline, now)` when given (the notification sender's hook).

Without the reconcile, a tick's reads grow with datasets x dates in the window, never with runs
or files: a date's runs come back in its dataset's Query. Every step is recomputed from the
stored state, so a tick that dies half-way loses nothing: the next one finishes the work.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .alerts import Alert
from .datasets import DatasetConfig
from .errors import PipelineError
from .expectations import (
    AlertKind,
    DatasetWindow,
    Expectation,
    ExpectationState,
    expectation_for,
    read_windows,
)
from .metrics import instrument, scope
from .models import Run
from .services import Actor, run_reconcile
from .states import RUN_IN_FLIGHT, RunStatus
from .timeutil import format_ts, parse_ts, utc_now

if TYPE_CHECKING:
    from .app import Pipeline

logger = logging.getLogger("dataplatform.evaluator")

ACTOR_NAME = "evaluator"
# An in-flight run is reconciled only after this long without a commit: a file move and its
# counter update are two writes, and reconciling between them would count the move twice.
QUIET_MINUTES = 5
Deliver = Callable[["Pipeline", datetime], Any]
# What the snapshot keeps of each dataset's expectation for today.
TODAY_FIELDS = frozenset(
    {"datasetName", "environment", "businessDate", "state", "reason", "runId", "runStatus", "dueAt", "lateMinutes"}
)


@dataclass
class TickResult:
    """What one tick did, for logs, the heartbeat and tests."""

    now: datetime
    tick_id: str
    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    already_done: int = 0  # opens/resolves another evaluator did first
    active: int = 0
    datasets: int = 0
    expectations: Counter[str] = field(default_factory=Counter)
    reconciled: list[str] = field(default_factory=list)
    reconcile_errors: int = 0
    duration_ms: float = 0.0
    requests: int = 0
    operations: dict[str, int] = field(default_factory=dict)
    heartbeat_written: bool = False
    delivered: Any = None

    def summary(self) -> dict[str, Any]:
        return {
            "now": format_ts(self.now), "tickId": self.tick_id, "opened": len(self.opened),
            "resolved": len(self.resolved), "alreadyDone": self.already_done, "active": self.active,
            "datasets": self.datasets, "expectations": dict(self.expectations), "reconciled": len(self.reconciled),
            "reconcileErrors": self.reconcile_errors, "durationMs": self.duration_ms, "requests": self.requests,
            "heartbeatWritten": self.heartbeat_written,
        }


def _hhmm(moment: datetime | None, config: DatasetConfig) -> str:
    if moment is None or config.schedule is None:
        return "?"
    local = f"{moment.astimezone(config.schedule.zone):%H:%M} {config.schedule.timezone}"
    return local if config.schedule.timezone == "UTC" else f"{local} ({moment:%H:%M} UTC)"


def describe(kind: AlertKind, e: Expectation, config: DatasetConfig) -> str:
    """One sentence for an opened episode: what is wrong and what to do."""
    what = f"{e.dataset_name} ({e.environment.value}) for {e.business_date.isoformat()}"
    run = e.run
    if kind is AlertKind.MISSING:
        return (f"No run of {what} has started; one was expected by {_hhmm(e.expected_at, config)}. "
                "Check the upstream job, then trigger the run.")
    assert run is not None  # noqa: S101 - late, stuck and failed always name a run
    if kind is AlertKind.FAILED:
        message = (run.error or {}).get("message") or "no error recorded"
        return f"Run {run.run_id} of {what} failed ({message}). Retry its failed files or trigger a rerun."
    if kind is AlertKind.STUCK:
        return (f"Run {run.run_id} of {what} has made no progress for {e.idle_minutes} min "
                f"(status {run.status.value}). Check the workers, then re-dispatch or cancel the run.")
    return (f"Run {run.run_id} of {what} is still {run.status.value}, {e.late_minutes} min past its due time "
            f"{_hhmm(e.due_at, config)}. Check its progress and the failed files.")


def resolution(alert: Alert, e: Expectation | None) -> str:
    """One sentence saying why an episode ended."""
    if e is None:
        return "Resolved: the dataset is no longer registered with a schedule in this environment."
    if e.state is ExpectationState.SKIPPED:
        return f"Resolved: no run is expected for this date any more ({e.reason})."
    run = f"run {e.run.run_id}" if e.run else "no run"
    if e.state is ExpectationState.MET:
        return f"Resolved: {run} succeeded in time."
    if e.state is ExpectationState.MET_LATE:
        return f"Resolved: {run} succeeded, {e.late_minutes} min after the due time."
    if alert.kind is AlertKind.MISSING:
        return f"Resolved: {run} exists now (state {e.state.value})."
    if alert.kind is AlertKind.STUCK:
        return f"Resolved: {run} is making progress again (state {e.state.value})."
    if alert.kind is AlertKind.LATE and e.state is ExpectationState.FAILED:
        return f"Resolved: {run} failed; the failed alert supersedes this one."
    return f"Resolved: the date is now {e.state.value} ({run})."


def _window_dates(config: DatasetConfig, now: datetime, window_days: int) -> list[date]:
    assert config.schedule is not None  # noqa: S101 - only scheduled datasets are evaluated
    today = config.schedule.local_date(now)
    return [today - timedelta(days=offset) for offset in range(window_days - 1, -1, -1)]


def _reconcile_candidates(
    windows: Sequence[DatasetWindow], now: datetime, last_tick: datetime | None, after: str | None
) -> list[Run]:
    """Runs that ended since the last tick (oldest end first), then quiet in-flight runs in
    runId order starting after `after` (round robin across ticks)."""
    ended: list[Run] = []
    flying: list[Run] = []
    quiet = now - timedelta(minutes=QUIET_MINUTES)
    for window in windows:
        for run in window.runs:
            touched = run.updated_at or run.created_at
            if run.created_at > now:
                continue
            if run.status in (RunStatus.SUCCESS, RunStatus.FAILED):
                if last_tick is not None and last_tick <= touched <= now:
                    ended.append(run)
            elif run.status in RUN_IN_FLIGHT and touched <= quiet:
                flying.append(run)
    ended.sort(key=lambda r: (r.updated_at or r.created_at, r.run_id))
    flying.sort(key=lambda r: r.run_id)
    if after:
        flying = [r for r in flying if r.run_id > after] + [r for r in flying if r.run_id <= after]
    return ended + flying


def _reconcile(
    p: Pipeline, windows: Sequence[DatasetWindow], result: TickResult, *, now: datetime,
    last_tick: datetime | None, after: str | None, budget: int,
) -> str | None:
    """Reconcile up to `budget` runs; the reconciled run replaces the stale copy in its window.
    Returns the last in-flight run id handled (where the next tick goes on)."""
    if budget <= 0:
        return after
    actor = Actor(name=ACTOR_NAME, request_id=result.tick_id)
    last = after
    fresh: dict[str, Run] = {}
    for run in _reconcile_candidates(windows, now, last_tick, after)[:budget]:
        try:
            outcome = run_reconcile(p, run_id=run.run_id, actor=actor, audit_unchanged=False)
        except PipelineError as exc:
            result.reconcile_errors += 1
            logger.warning("evaluator reconcile of %s refused: %s tick=%s", run.run_id, exc.message, result.tick_id)
            continue
        result.reconciled.append(run.run_id)
        fresh[run.run_id] = outcome.run
        if run.status in RUN_IN_FLIGHT:
            last = run.run_id
        if outcome.changed:
            logger.info("evaluator reconciled run=%s before=%s after=%s status=%s tick=%s", run.run_id,
                        outcome.before, outcome.after, outcome.run.status.value, result.tick_id)
    for window in windows:
        window.runs = [fresh.get(r.run_id, r) for r in window.runs]
    return last


def _snapshot(
    windows: Sequence[DatasetWindow], expectations: Sequence[Expectation], active: Sequence[Alert],
    now: datetime, window_days: int,
) -> dict[str, Any]:
    """The gauge values of SPEC section 9 (labels: dataset, environment, status/state/kind)."""
    runs: Counter[tuple[str, str, str]] = Counter()
    oldest: dict[tuple[str, str], datetime] = {}
    last_success: dict[tuple[str, str], datetime] = {}
    for window in windows:
        dates = set(_window_dates(window.config, now, window_days))
        for run in window.runs:
            if run.business_date not in dates or run.created_at > now:
                continue
            key = (run.dataset_name, run.environment.value)
            runs[(*key, run.status.value)] += 1
            if run.status in RUN_IN_FLIGHT and (key not in oldest or run.created_at < oldest[key]):
                oldest[key] = run.created_at
            if run.status is RunStatus.SUCCESS:
                finished = run.updated_at or run.created_at
                if key not in last_success or finished > last_success[key]:
                    last_success[key] = finished
    states: Counter[tuple[str, str, str]] = Counter(
        (e.dataset_name, e.environment.value, e.state.value) for e in expectations
    )
    alerts: Counter[tuple[str, str]] = Counter((a.kind.value, a.environment.value) for a in active)
    # Each dataset's today (the window's last date, in its timezone): the attention page shows
    # these without one Query per dataset on every poll.
    by_key = {e.key: e for e in expectations}
    today = []
    for window in windows:
        day = _window_dates(window.config, now, window_days)[-1]
        e = by_key.get((window.config.dataset_name, window.config.environment.value, day.isoformat()))
        if e is not None:
            today.append({k: v for k, v in e.to_dict().items() if k in TODAY_FIELDS})
    today.sort(key=lambda row: (str(row["datasetName"]), str(row["environment"])))
    return {
        "today": today,
        "evaluatedAt": format_ts(now),
        "windowDays": window_days,
        "runs": [{"dataset": d, "environment": e, "status": s, "count": n} for (d, e, s), n in sorted(runs.items())],
        "expectations": [
            {"dataset": d, "environment": e, "state": s, "count": n} for (d, e, s), n in sorted(states.items())
        ],
        "alertsOpen": [{"kind": k, "environment": e, "count": n} for (k, e), n in sorted(alerts.items())],
        "oldestInflightStart": [
            {"dataset": d, "environment": e, "timestamp": t.timestamp()} for (d, e), t in sorted(oldest.items())
        ],
        "lastRunSuccess": [
            {"dataset": d, "environment": e, "timestamp": t.timestamp()} for (d, e), t in sorted(last_success.items())
        ],
        "evaluatorLastSuccess": now.timestamp(),
    }


def evaluate(
    p: Pipeline,
    *,
    now: datetime | None = None,
    window_days: int | None = None,
    reconcile_budget: int | None = None,
    deliver: Deliver | None = None,
) -> TickResult:
    """One tick as of `now` (default: the current time); see the module docstring."""
    moment = now or utc_now()
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    days = window_days if window_days is not None else p.config.evaluator_window_days
    if days < 1:
        raise ValueError("window_days must be at least 1")
    budget = reconcile_budget if reconcile_budget is not None else p.config.evaluator_reconcile_budget
    result = TickResult(now=moment, tick_id=uuid.uuid4().hex[:16])
    started = time.perf_counter()
    instrument(p.client)
    with scope() as stats:
        configs = [c for c in p.datasets.all() if c.schedule is not None]
        registrations = p.datasets.registrations()
        for config in configs:
            if config.dataset_name not in registrations:
                # Stored before registration records existed: watched from now on, not before.
                p.datasets.register(config.dataset_name, moment)
                registrations[config.dataset_name] = moment
        result.datasets = len(configs)
        heartbeat = p.alerts.heartbeat()
        last_tick = heartbeat["lastTickAt"] if heartbeat else None
        after = str(heartbeat.get("reconcileAfter") or "") if heartbeat else None

        windows: list[DatasetWindow] = []
        if configs:
            starts = [_window_dates(c, moment, days)[0] for c in configs]
            ends = [_window_dates(c, moment, days)[-1] for c in configs]
            windows = read_windows(p, configs, min(starts), max(ends), registrations)
        after = _reconcile(p, windows, result, now=moment, last_tick=last_tick, after=after, budget=budget)

        active = p.alerts.active()
        by_name = {w.config.dataset_name: w for w in windows}
        expectations: dict[tuple[str, str, str], Expectation] = {}
        for window in windows:
            by_date = window.runs_by_date()
            for day in _window_dates(window.config, moment, days):
                e = expectation_for(window.config, business_date=day, runs=by_date.get(day, []), now=moment,
                                    registered_at=window.registered_at)
                expectations[e.key] = e
        current = list(expectations.values())
        # Active episodes older than the window: one Query per such (dataset, date).
        for dataset_name, env, old_day in sorted({a.key[:3] for a in active} - set(expectations)):
            stale = by_name.get(dataset_name)
            if stale is None or stale.config.environment.value != env:
                continue
            runs = list(p.runs.between_dates(dataset_name, old_day, old_day))
            expectations[(dataset_name, env, old_day)] = expectation_for(
                stale.config, business_date=date.fromisoformat(old_day), runs=runs, now=moment,
                registered_at=stale.registered_at,
            )
        result.expectations = Counter(e.state.value for e in current)

        wanted = {(*e.key, kind.value): (e, kind) for e in expectations.values() for kind in e.alerts}
        active_keys = {a.key for a in active}
        still_active = list(active)
        for key, (e, kind) in sorted(wanted.items()):
            if key in active_keys:
                continue
            config = by_name[e.dataset_name].config
            opened = p.alerts.open(
                kind=kind, dataset_name=e.dataset_name, environment=e.environment,
                business_date=e.business_date.isoformat(), now=moment, summary=describe(kind, e, config),
                run_id=e.run.run_id if e.run else None, late_minutes=e.late_minutes,
            )
            if opened is None:
                result.already_done += 1
                continue
            result.opened.append(opened)
            still_active.append(opened)
            logger.info("alert opened id=%s kind=%s dataset=%s environment=%s date=%s run=%s tick=%s",
                        opened.alert_id, kind.value, e.dataset_name, e.environment.value, e.business_date,
                        opened.run_id, result.tick_id)
        for alert in active:
            if alert.key in wanted:
                continue
            why = resolution(alert, expectations.get(alert.key[:3]))
            resolved = p.alerts.resolve(alert, now=moment, resolution=why)
            still_active.remove(alert)
            if resolved is None:
                result.already_done += 1
                continue
            result.resolved.append(resolved)
            logger.info("alert resolved id=%s kind=%s dataset=%s environment=%s date=%s open_minutes=%s tick=%s",
                        alert.alert_id, alert.kind.value, alert.dataset_name, alert.environment.value,
                        alert.business_date, resolved.open_minutes, result.tick_id)
        result.active = len(still_active)

        p.alerts.write_snapshot(moment, _snapshot(windows, current, still_active, moment, days))
        result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        result.heartbeat_written = p.alerts.write_heartbeat(
            moment,
            {
                "durationMs": result.duration_ms, "opened": len(result.opened), "resolved": len(result.resolved),
                "active": result.active, "datasets": result.datasets, "reconciled": len(result.reconciled),
                "reconcileAfter": after, "requests": stats.calls, "tickId": result.tick_id,
                "finishedAt": utc_now(),
            },
        )
    result.requests = stats.calls
    result.operations = dict(stats.operations)
    logger.info("evaluator tick %s", json.dumps(result.summary(), sort_keys=True))
    if deliver is not None:
        try:
            result.delivered = deliver(p, moment)
            outcomes = getattr(result.delivered, "outcomes", None)
            if outcomes:
                # runmon_notifications_total: counted in DynamoDB, so every web instance serves the same numbers.
                p.alerts.add_notification_counts(outcomes)
        except Exception:
            # Delivery has its own retries; the tick's evaluation stands and is already recorded.
            logger.exception("evaluator delivery failed tick=%s", result.tick_id)
    return result


def evaluator_freshness(
    heartbeat: dict[str, Any] | None, *, now: datetime, stale_after_seconds: float
) -> dict[str, Any]:
    """How current the evaluator is, for health: ``ok`` when its last tick finished less than
    `stale_after_seconds` ago, ``degraded`` when older, ``unknown`` when it never ticked.
    The age counts from ``finishedAt`` (when the tick really ran), not from the instant it
    evaluated (``lastTickAt``, which `--now` may set in the past)."""
    if not heartbeat:
        return {"status": "unknown", "lastTickAt": None, "ageSeconds": None}
    finished = heartbeat.get("finishedAt")
    try:
        at = parse_ts(str(finished)) if finished else heartbeat["lastTickAt"]
    except (KeyError, ValueError):
        return {"status": "unknown", "lastTickAt": None, "ageSeconds": None}
    if not isinstance(at, datetime):
        return {"status": "unknown", "lastTickAt": None, "ageSeconds": None}
    age = max(0.0, (now - at).total_seconds())
    return {
        "status": "ok" if age <= stale_after_seconds else "degraded",
        "lastTickAt": format_ts(at),
        "ageSeconds": round(age, 1),
    }


def _parse_now(value: str) -> datetime:
    try:
        moment = parse_ts(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--now must be an ISO-8601 instant, got {value!r}") from exc
    return moment


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dataplatform.pipeline.evaluator --once [--now ISO] | --every SECONDS`."""
    parser = argparse.ArgumentParser(
        prog="python -m dataplatform.pipeline.evaluator", description="Evaluate expectations and alert episodes."
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="evaluate one tick and exit")
    mode.add_argument("--every", type=float, metavar="SECONDS", help="evaluate a tick every SECONDS until stopped")
    parser.add_argument("--now", type=_parse_now, help="evaluate as of this ISO-8601 instant (with --once)")
    parser.add_argument("--window-days", type=int, default=None, help="business dates to look back (default 7)")
    args = parser.parse_args(argv)
    if args.now is not None and not args.once:
        parser.error("--now goes with --once")
    if args.every is not None and args.every <= 0:
        parser.error("--every must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from .app import Pipeline
    from .config import PipelineConfig
    from .notify import deliver_notifications

    pipeline = Pipeline(PipelineConfig.from_env())
    while True:
        try:
            result = evaluate(pipeline, now=args.now, window_days=args.window_days, deliver=deliver_notifications)
            print(json.dumps(result.summary(), sort_keys=True), flush=True)
        except PipelineError as exc:
            logger.error("evaluator tick failed: %s", exc.message)
            if args.once:
                return 1
        if args.once:
            return 0
        try:
            time.sleep(args.every)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
