"""Demo data: a realistic, consistent history, loaded idempotently."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from dataplatform.pipeline import selectors
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import is_overdue
from dataplatform.pipeline.demo import BIG_RUN_FILES, DEMO_DATASETS, HISTORY_DAYS, build_plan, load_demo
from dataplatform.pipeline.services import Actor, run_reconcile
from dataplatform.pipeline.states import FILE_TERMINAL, FileStatus, RunStatus
from dataplatform.web import wiring

from .recording import snapshot

NOW = datetime(2024, 3, 13, 9, 30, tzinfo=UTC)  # a Wednesday morning
TODAY = NOW.date()


def test_plan_covers_every_status_with_consistent_counters() -> None:
    plan = build_plan(TODAY, NOW)
    runs = [planned.run for planned in plan.runs]
    assert {r.status for r in runs} == set(RunStatus)
    assert {f.status for planned in plan.runs for f in planned.files} == set(FileStatus)
    assert len({r.dataset_name for r in runs}) == len(DEMO_DATASETS) == 6
    for planned in plan.runs:
        counts = Counter(f.status.value for f in planned.files)
        assert planned.run.counts() == {s.value: counts.get(s.value, 0) for s in FileStatus}
        assert planned.run.resolved_files == len(planned.files)
        assert len({f.file_id for f in planned.files}) == len(planned.files)
        assert all(f.run_id == planned.run.run_id for f in planned.files)
        assert planned.run.created_at <= NOW
        terminal = all(f.status in FILE_TERMINAL for f in planned.files)
        if planned.run.status is RunStatus.SUCCESS:
            assert counts == {"preprocessed": len(planned.files)}
        if planned.run.status is RunStatus.FAILED:
            assert terminal
            assert counts["failed"] > 0
            assert planned.run.error == {
                "message": f"{counts['failed']} of {len(planned.files)} files failed", "failedFiles": counts["failed"]
            }
        if planned.run.status is RunStatus.PROCESSING:
            assert not terminal


def test_plan_has_the_10k_run_missing_days_and_30_dates_per_dataset() -> None:
    plan = build_plan(TODAY, NOW)
    big = next(planned for planned in plan.runs if planned.run.run_id == plan.big_run_id)
    assert big.run.status is RunStatus.PROCESSING
    assert big.run.resolved_files == BIG_RUN_FILES == len(big.files)
    counts = big.run.counts()
    assert counts["preprocessed"] > BIG_RUN_FILES * 0.9
    assert counts["failed"] > 0
    assert counts["pending"] > 0
    configs = {c.dataset_name: c for c in plan.datasets}
    assert plan.missing
    for name, day in plan.missing:
        assert is_overdue(configs[name], day, NOW)
        assert not any(p.run.dataset_name == name and p.run.business_date == day for p in plan.runs)
    for name in configs:
        dates = {p.run.business_date for p in plan.runs if p.run.dataset_name == name}
        missing = {d for n, d in plan.missing if n == name}
        assert len(dates | missing) == HISTORY_DAYS
    assert build_plan(TODAY, NOW + timedelta(minutes=5)).big_run_id == plan.big_run_id  # ids depend on the day


@pytest.fixture
def wired(ddb_local_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setattr(wiring._pipelines, "_pipeline", ddb_local_pipeline)
    return ddb_local_pipeline


def test_load_demo_writes_everything_once_and_reconcile_changes_nothing(wired: Pipeline) -> None:
    p = wired
    plan = build_plan(TODAY, NOW)
    out = StringIO()
    call_command("load_demo", "--today", TODAY.isoformat(), stdout=out)
    output = out.getvalue()
    assert f"runs: {len(plan.runs)} created, 0 already present" in output
    assert f"10,000-file run: {plan.big_run_id}" in output

    big = p.runs.get(plan.big_run_id)
    assert big.resolved_files == BIG_RUN_FILES
    assert selectors.run_file_counts(p, run_id=big.run_id) == big.counts()
    for status in RunStatus:
        assert p.runs.by_status(status, limit=1).items, f"no demo run is {status}"
    runs = p.runs.by_dataset("bond-prices", limit=500).items
    for status in FileStatus:
        assert any(p.files.by_run(r.run_id, status=status, limit=1).items for r in runs), f"no demo file is {status}"
    assert len(p.datasets.all()) == len(DEMO_DATASETS)

    actor = Actor(name="test")
    big_planned = next(x for x in plan.runs if x.run.run_id == plan.big_run_id)
    for planned in [*plan.runs[:: max(1, len(plan.runs) // 12)], big_planned]:
        result = run_reconcile(p, run_id=planned.run.run_id, actor=actor)
        assert not result.changed, planned.run.run_id

    name, day = plan.missing[0]
    calendar = selectors.dataset_calendar(p, name=name, start=day, end=day, now=NOW)
    assert calendar[0].status == "missing"

    before = snapshot(p)
    second = load_demo(p, today=TODAY, now=NOW)
    assert (second.runs_created, second.files_written, second.datasets_written) == (0, 0, 0)
    assert second.runs_skipped == len(plan.runs)
    assert snapshot(p) == before


def test_each_dataset_is_registered_as_of_its_own_history() -> None:
    """Not all as of the oldest run of any dataset: a weekly dataset's history goes back months,
    and the daily datasets' calendars showed those months as missing."""
    plan = build_plan(TODAY, NOW)
    registered = plan.registrations()
    configs = {c.dataset_name: c for c in plan.datasets}
    assert set(registered) == set(configs)
    for name, at in registered.items():
        config = configs[name]
        assert config.schedule is not None
        assert at.tzinfo is not None
        history = {p.run.business_date for p in plan.runs if p.run.dataset_name == name}
        history |= {day for n, day in plan.missing if n == name}
        # The first history date is watched (its expectation counts), the day before it is not.
        assert config.schedule.local_date(at) == min(history)
        assert config.schedule.local_date(at - timedelta(seconds=1)) < min(history)
    assert len({at.date() for at in registered.values()}) > 1  # weekly and daily histories differ
