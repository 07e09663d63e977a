"""The simulator's deliberate misbehaviour (missed dates, held runs) that feeds real alerts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from dataplatform.ops.management.commands import simulate
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import parse_dataset
from dataplatform.pipeline.simulator import Simulator, SimulatorOptions, SimulatorStats
from dataplatform.pipeline.states import FileStatus

DAYS = [(date(2026, 1, 1) + timedelta(days=i)).isoformat() for i in range(200)]


def test_missed_dates_are_fixed_by_the_seed(moto_pipeline: Pipeline) -> None:
    one = Simulator(moto_pipeline, SimulatorOptions(seed=7, miss_rate=0.5))
    two = Simulator(moto_pipeline, SimulatorOptions(seed=7, miss_rate=0.5))
    other = Simulator(moto_pipeline, SimulatorOptions(seed=8, miss_rate=0.5))
    missed = [d for d in DAYS if one.misses("fx-rates", d)]
    assert missed == [d for d in DAYS if two.misses("fx-rates", d)]
    assert missed != [d for d in DAYS if other.misses("fx-rates", d)]
    assert 70 <= len(missed) <= 130


def test_once_mode_never_misbehaves(moto_pipeline: Pipeline) -> None:
    simulator = Simulator(moto_pipeline, SimulatorOptions(once=True, miss_rate=1.0, stuck_rate=1.0))
    assert not any(simulator.misses("fx-rates", d) for d in DAYS)
    assert not simulator.holds("fx-rates", DAYS[0], 1)


def test_a_missed_date_is_never_triggered(moto_pipeline: Pipeline) -> None:
    moto_pipeline.datasets.put(parse_dataset({"datasetName": "fx-rates", "locations": ["https://x.example/{yyyymmdd}.csv"]}))
    simulator = Simulator(moto_pipeline, SimulatorOptions(miss_rate=1.0), today=lambda: date(2026, 3, 2))
    assert simulator._trigger("fx-rates", force=False) is None
    assert simulator.stats.missed == ["fx-rates@2026-03-02"]
    assert moto_pipeline.runs.by_dataset("fx-rates").items == []


def test_a_held_run_makes_no_progress_until_the_hold_ends(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    p.datasets.put(parse_dataset({"datasetName": "fx-rates", "locations": ["https://x.example/{yyyymmdd}.csv"]}))
    options = SimulatorOptions(miss_rate=0.0, stuck_rate=1.0, step_delay=(0.0, 0.0))
    simulator = Simulator(p, options, today=lambda: date(2026, 3, 2))
    run_id = simulator._trigger("fx-rates", force=False)
    assert run_id is not None
    assert simulator.stats.held == [run_id]
    [record] = p.files.by_run(run_id).items
    simulator._advance(record.file_id, random.Random(1))
    assert p.files.get(record.file_id).status is FileStatus.PENDING
    simulator._held_until[run_id] = 0.0  # the hold is over
    simulator._advance(record.file_id, random.Random(1))
    assert p.files.get(record.file_id).status in {FileStatus.PREPROCESSED, FileStatus.FAILED}


def test_each_dataset_is_triggered_for_its_own_today(moto_pipeline: Pipeline) -> None:
    p = moto_pipeline
    for name, zone in (("ny-prices", "America/New_York"), ("tokyo-prices", "Asia/Tokyo")):
        p.datasets.put(parse_dataset({"datasetName": name, "locations": ["https://x.example/{yyyymmdd}.csv"],
                                      "schedule": {"timezone": zone}}))
    p.datasets.put(parse_dataset({"datasetName": "no-schedule", "locations": ["https://x.example/{yyyymmdd}.csv"]}))
    simulator = Simulator(p, SimulatorOptions(miss_rate=0.0, stuck_rate=0.0))
    with time_machine.travel(datetime(2026, 3, 3, 2, 0, tzinfo=UTC), tick=False):
        # 02:00 UTC: 21:00 the day before in New York, 11:00 in Tokyo.
        assert simulator.business_date("ny-prices") == date(2026, 3, 2)
        assert simulator.business_date("tokyo-prices") == date(2026, 3, 3)
        assert simulator.business_date("no-schedule") == date(2026, 3, 3)
        run_id = simulator._trigger("ny-prices", force=False)
    assert run_id is not None
    assert p.runs.get(run_id).business_date == date(2026, 3, 2)


def test_simulate_refuses_a_rate_outside_zero_to_one() -> None:
    with pytest.raises(CommandError, match="miss_rate and stuck_rate"):
        call_command("simulate", "--miss-rate", "1.5", "--max-seconds", "1")
    with pytest.raises(CommandError, match="stuck_minutes"):
        call_command("simulate", "--stuck-minutes", "0", "--max-seconds", "1")


def test_simulate_passes_its_misbehaviour_options_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[SimulatorOptions] = []

    class Recording:
        def __init__(self, p: object, options: SimulatorOptions, **_: object) -> None:
            seen.append(options)

        def run(self) -> SimulatorStats:
            return SimulatorStats()

    monkeypatch.setattr(simulate, "Simulator", Recording)
    monkeypatch.setattr(simulate, "get_pipeline", lambda: None)
    call_command("simulate", "--miss-rate", "0.5", "--stuck-rate", "0.25", "--stuck-minutes", "90", "--seed", "7",
                 stdout=StringIO())
    [options] = seen
    assert (options.miss_rate, options.stuck_rate, options.stuck_minutes, options.seed) == (0.5, 0.25, 90.0, 7)
