"""Expectation states: the pure rules under frozen time, and the one-Query-per-dataset selector."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig, parse_dataset
from dataplatform.pipeline.errors import ValidationFailed
from dataplatform.pipeline.expectations import (
    AlertKind,
    ExpectationState,
    expectation_for,
    expectations_for,
)
from dataplatform.pipeline.metrics import instrument, scope
from dataplatform.pipeline.models import Environment, Run
from dataplatform.pipeline.timeutil import utc_now

MONDAY = date(2026, 3, 2)
State = ExpectationState


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def config(name: str = "prices", environment: str = "prod", **schedule: Any) -> DatasetConfig:
    base = {"expectedBy": "06:00", "startGraceMinutes": 30, "dueBy": "08:00", "dueGraceMinutes": 15,
            "stuckAfterMinutes": 60}
    return parse_dataset({
        "datasetName": name, "environment": environment, "locations": ["s3://bucket/{businessDate}/p.csv"],
        "schedule": {**base, **schedule},
    })


def run(status: str = "processing", *, created: datetime, updated: datetime | None = None, day: date = MONDAY,
        run_id: str = "r1", environment: str = "prod", dataset: str = "prices", **extra: Any) -> Run:
    return Run.model_validate({
        "runId": run_id, "datasetName": dataset, "businessDate": day, "createdAt": created, "status": status,
        "updatedAt": updated, "environment": environment, **extra,
    })


def state_at(now: datetime, *runs: Run, cfg: DatasetConfig | None = None, day: date = MONDAY,
             registered_at: datetime | None = None) -> ExpectationState:
    e = expectation_for(cfg or config(), business_date=day, runs=list(runs), now=now, registered_at=registered_at)
    return e.state


def test_upcoming_before_the_expected_time() -> None:
    assert state_at(utc(2026, 3, 2, 5, 59)) is State.UPCOMING


def test_awaiting_inside_the_start_grace() -> None:
    assert state_at(utc(2026, 3, 2, 6, 0)) is State.AWAITING
    assert state_at(utc(2026, 3, 2, 6, 29)) is State.AWAITING


def test_missing_after_the_start_grace() -> None:
    e = expectation_for(config(), business_date=MONDAY, runs=[], now=utc(2026, 3, 2, 6, 30))
    assert e.state is State.MISSING
    assert e.alerts == {AlertKind.MISSING}
    assert e.late_minutes is None  # not yet past the due time


def test_missing_past_the_due_time_says_how_late() -> None:
    e = expectation_for(config(), business_date=MONDAY, runs=[], now=utc(2026, 3, 2, 9, 0))
    assert (e.state, e.late_minutes) == (State.MISSING, 60)


def test_running_while_a_run_makes_progress_before_the_due_grace() -> None:
    r = run(created=utc(2026, 3, 2, 5, 50), updated=utc(2026, 3, 2, 8, 10))
    e = expectation_for(config(), business_date=MONDAY, runs=[r], now=utc(2026, 3, 2, 8, 14))
    assert (e.state, e.run, e.alerts) == (State.RUNNING, r, frozenset())


def test_late_after_the_due_grace_without_success() -> None:
    r = run(created=utc(2026, 3, 2, 5, 50), updated=utc(2026, 3, 2, 8, 10))
    e = expectation_for(config(), business_date=MONDAY, runs=[r], now=utc(2026, 3, 2, 8, 15))
    assert (e.state, e.alerts, e.late_minutes) == (State.LATE, {AlertKind.LATE}, 15)


def test_stuck_when_an_in_flight_run_has_no_progress() -> None:
    r = run(created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 6, 0))
    e = expectation_for(config(), business_date=MONDAY, runs=[r], now=utc(2026, 3, 2, 7, 0))
    assert (e.state, e.alerts, e.idle_minutes) == (State.STUCK, {AlertKind.STUCK}, 60)


def test_stuck_counts_from_created_at_without_updated_at() -> None:
    r = run("pending", created=utc(2026, 3, 2, 5, 0))
    assert state_at(utc(2026, 3, 2, 5, 59), r) is State.RUNNING
    assert state_at(utc(2026, 3, 2, 6, 0), r) is State.STUCK


def test_a_stuck_run_past_due_is_both_stuck_and_late() -> None:
    r = run(created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 6, 0))
    e = expectation_for(config(), business_date=MONDAY, runs=[r], now=utc(2026, 3, 2, 9, 0))
    assert (e.state, e.alerts) == (State.STUCK, {AlertKind.STUCK, AlertKind.LATE})


def test_failed_supersedes_late() -> None:
    r = run("failed", created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 7, 0), error={"message": "2 of 8"})
    e = expectation_for(config(), business_date=MONDAY, runs=[r], now=utc(2026, 3, 2, 10, 0))
    assert (e.state, e.alerts) == (State.FAILED, {AlertKind.FAILED})


def test_met_when_success_before_the_due_grace() -> None:
    r = run("success", created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 8, 15))
    assert state_at(utc(2026, 3, 2, 12, 0), r) is State.MET


def test_met_late_when_success_after_the_due_grace() -> None:
    r = run("success", created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 9, 30))
    e = expectation_for(config(), business_date=MONDAY, runs=[r], now=utc(2026, 3, 2, 12, 0))
    assert (e.state, e.late_minutes, e.alerts) == (State.MET_LATE, 90, frozenset())


def test_skipped_on_a_weekend_with_the_reason() -> None:
    e = expectation_for(config(), business_date=date(2026, 3, 7), runs=[], now=utc(2026, 3, 9))
    assert (e.state, e.reason, e.alerts) == (State.SKIPPED, "weekend", frozenset())


def test_skipped_before_since() -> None:
    e = expectation_for(config(since="2026-03-03"), business_date=MONDAY, runs=[], now=utc(2026, 3, 9))
    assert (e.state, e.reason) == (State.SKIPPED, "before since (2026-03-03)")


def test_a_cancelled_latest_run_counts_as_no_run() -> None:
    cancelled = run("cancelled", created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 5, 10))
    assert state_at(utc(2026, 3, 2, 6, 10), cancelled) is State.AWAITING
    assert state_at(utc(2026, 3, 2, 7, 0), cancelled) is State.MISSING


def test_the_latest_run_decides_and_cancelled_reruns_are_ignored() -> None:
    failed = run("failed", created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 6, 0), run_id="r1")
    rerun = run("success", created=utc(2026, 3, 2, 6, 30), updated=utc(2026, 3, 2, 7, 0), run_id="r2")
    cancelled = run("cancelled", created=utc(2026, 3, 2, 7, 30), run_id="r3")
    e = expectation_for(config(), business_date=MONDAY, runs=[failed, rerun, cancelled], now=utc(2026, 3, 2, 9))
    assert (e.state, e.run, e.runs) == (State.MET, rerun, 3)


def test_runs_of_another_environment_are_ignored() -> None:
    staging = run("success", created=utc(2026, 3, 2, 5, 0), environment="staging")
    assert state_at(utc(2026, 3, 2, 7, 0), staging) is State.MISSING


def test_another_environment_has_no_expectations() -> None:
    """The schedule belongs to the registry's environment: asked about staging, a prod dataset's
    dates are skipped (the datasets page showed every staging weekday as missing)."""
    staging_run = run("success", created=utc(2026, 3, 2, 5, 0), environment="staging")
    for runs in ([], [staging_run]):
        e = expectation_for(config(), business_date=MONDAY, runs=runs, now=utc(2026, 3, 2, 9),
                            environment=Environment.STAGING)
        assert (e.state, e.reason, e.alerts) == (State.SKIPPED, "scheduled in prod only", frozenset())
        assert e.run == (runs[0] if runs else None)  # still linked from the page
    assert state_at(utc(2026, 3, 2, 9)) is State.MISSING  # in prod, the same date is missing


def test_runs_created_after_now_do_not_exist_yet() -> None:
    later = run("success", created=utc(2026, 3, 2, 8, 0), updated=utc(2026, 3, 2, 8, 5))
    assert state_at(utc(2026, 3, 2, 7, 0), later) is State.MISSING


def test_a_dataset_registered_today_has_no_expectations_for_yesterday() -> None:
    registered = utc(2026, 3, 3, 10, 0)
    cfg = config()
    assert state_at(utc(2026, 3, 3, 12), cfg=cfg, day=MONDAY, registered_at=registered) is State.SKIPPED
    e = expectation_for(cfg, business_date=MONDAY, runs=[], now=utc(2026, 3, 3, 12), registered_at=registered)
    assert e.reason == "before registration (2026-03-03)"
    assert state_at(utc(2026, 3, 3, 12), cfg=cfg, day=date(2026, 3, 3), registered_at=registered) is State.MISSING


def test_registration_counts_in_the_dataset_timezone() -> None:
    cfg = config(timezone="America/New_York")
    # 02:00 UTC on the 3rd is still the 2nd in New York: the 2nd is watched.
    assert state_at(utc(2026, 3, 3, 12), cfg=cfg, registered_at=utc(2026, 3, 3, 2)) is not State.SKIPPED


def test_due_day_offset_one_over_a_weekend() -> None:
    cfg = config(expectedBy="05:00", dueBy="06:00", dueDayOffset=1, startGraceMinutes=0, dueGraceMinutes=0)
    friday = date(2026, 3, 6)
    # Friday's data is due Saturday 06:00; Saturday and Sunday have no business date of their own.
    assert state_at(utc(2026, 3, 7, 4, 59), cfg=cfg, day=friday) is State.UPCOMING
    assert state_at(utc(2026, 3, 7, 5, 30), cfg=cfg, day=friday) is State.MISSING
    assert state_at(utc(2026, 3, 9, 12), cfg=cfg, day=date(2026, 3, 7)) is State.SKIPPED
    assert state_at(utc(2026, 3, 9, 12), cfg=cfg, day=date(2026, 3, 8)) is State.SKIPPED


@pytest.mark.parametrize(
    ("day", "missing_from"),
    [
        (date(2026, 3, 27), utc(2026, 3, 27, 7, 0)),  # GMT: 07:00 London = 07:00 UTC
        (date(2026, 3, 30), utc(2026, 3, 30, 6, 0)),  # BST: 07:00 London = 06:00 UTC
        (date(2026, 10, 23), utc(2026, 10, 23, 6, 0)),
        (date(2026, 10, 26), utc(2026, 10, 26, 7, 0)),
    ],
)
def test_london_missing_across_both_daylight_saving_changes(day: date, missing_from: datetime) -> None:
    cfg = config(timezone="Europe/London", expectedBy="07:00", startGraceMinutes=0, dueBy="09:00")
    assert state_at(missing_from - timedelta(minutes=1), cfg=cfg, day=day) is State.UPCOMING
    assert state_at(missing_from, cfg=cfg, day=day) is State.MISSING


@pytest.mark.parametrize(
    ("day", "late_from"),
    [
        (date(2026, 3, 6), utc(2026, 3, 6, 22, 0)),  # EST: 17:00 New York = 22:00 UTC
        (date(2026, 3, 9), utc(2026, 3, 9, 21, 0)),  # EDT
        (date(2026, 10, 30), utc(2026, 10, 30, 21, 0)),
        (date(2026, 11, 2), utc(2026, 11, 2, 22, 0)),
    ],
)
def test_new_york_late_across_both_daylight_saving_changes(day: date, late_from: datetime) -> None:
    cfg = config(timezone="America/New_York", expectedBy="09:00", dueBy="17:00", dueGraceMinutes=0,
                 stuckAfterMinutes=None)
    r = run(created=late_from - timedelta(hours=6), day=day)
    assert state_at(late_from - timedelta(minutes=1), r, cfg=cfg, day=day) is State.RUNNING
    assert state_at(late_from, r, cfg=cfg, day=day) is State.LATE


def test_a_us_market_holiday_is_skipped_with_its_name() -> None:
    cfg = config(timezone="America/New_York", calendar="XNYS")
    e = expectation_for(cfg, business_date=date(2026, 11, 26), runs=[], now=utc(2026, 11, 27, 12))
    assert (e.state, e.reason) == (State.SKIPPED, "XNYS closed: Thanksgiving")


def test_a_uk_bank_holiday_is_skipped_with_its_name() -> None:
    cfg = config(timezone="Europe/London", holidays="GB-ENG")
    e = expectation_for(cfg, business_date=date(2026, 8, 31), runs=[], now=utc(2026, 9, 1, 12))
    assert (e.state, e.reason) == (State.SKIPPED, "holiday: Late Summer Bank Holiday (GB-ENG)")


def test_to_dict_is_json_ready() -> None:
    r = run(created=utc(2026, 3, 2, 5, 0), updated=utc(2026, 3, 2, 6, 0))
    data = expectation_for(config(), business_date=MONDAY, runs=[r], now=utc(2026, 3, 2, 9)).to_dict()
    assert data["state"] == "stuck"
    assert data["alerts"] == ["late", "stuck"]
    assert data["dueAt"] == "2026-03-02T08:00:00.000000Z"
    assert data["runId"] == "r1"


# --- the selector --------------------------------------------------------------------


def store(p: Pipeline, *configs: DatasetConfig) -> None:
    for cfg in configs:
        p.datasets.register(cfg.dataset_name, utc(2026, 1, 1))
    p.datasets.put_many(list(configs))


@time_machine.travel(utc(2026, 3, 4, 12, 0), tick=False)
def test_the_selector_reads_one_query_per_dataset_whatever_the_runs(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    store(p, config("prices"), config("rates"))
    for i in range(40):
        p.runs.create(run("success", created=utc(2026, 3, 2, 5, i % 60), updated=utc(2026, 3, 2, 7), run_id=f"p{i}"))
    p.runs.create(run("processing", created=utc(2026, 3, 4, 5), updated=utc(2026, 3, 4, 11, 30),
                      run_id="q", dataset="rates", day=date(2026, 3, 4)))
    dates = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    instrument(p.client)
    with scope() as stats:
        result = expectations_for(p, dates=dates, now=utc_now())
    assert [(e.dataset_name, e.business_date.day, e.state.value) for e in result] == [
        ("prices", 2, "met"), ("prices", 3, "missing"), ("prices", 4, "missing"),
        ("rates", 2, "missing"), ("rates", 3, "missing"), ("rates", 4, "late"),
    ]
    # registry + registrations + one Query per dataset (each page read fully)
    assert stats.operations == {"Query": 4}


@time_machine.travel(utc(2026, 3, 4, 12, 0), tick=False)
def test_the_selector_filters_by_environment_and_dataset(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    store(p, config("prices", "prod"), config("rates", "staging"),
          parse_dataset({"datasetName": "adhoc", "locations": ["s3://bucket/{businessDate}/a.csv"]}))
    day = [date(2026, 3, 4)]
    assert [e.dataset_name for e in expectations_for(p, dates=day, now=utc_now())] == ["prices", "rates"]
    assert [e.dataset_name for e in expectations_for(p, dates=day, now=utc_now(), environment="staging")] == ["rates"]
    assert [e.dataset_name for e in expectations_for(p, dates=day, now=utc_now(), dataset_name="prices")] == ["prices"]


def test_the_selector_refuses_bad_input(moto_pipeline: Pipeline) -> None:
    with pytest.raises(ValidationFailed):
        expectations_for(moto_pipeline, dates=[], now=utc(2026, 3, 4))
    with pytest.raises(ValidationFailed):
        expectations_for(moto_pipeline, dates=[date(2026, 1, 1), date(2026, 6, 1)], now=utc(2026, 3, 4))
    with pytest.raises(ValidationFailed):
        expectations_for(moto_pipeline, dates=[date(2026, 1, 1)], now=utc(2026, 3, 4), environment="qa")
