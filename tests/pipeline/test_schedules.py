"""Schedules in the registry: timezones, holidays, exchange calendars, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig, Schedule, parse_dataset, parse_dataset_documents
from dataplatform.pipeline.errors import ValidationFailed


def config(**schedule: Any) -> DatasetConfig:
    return parse_dataset(
        {"datasetName": "prices", "locations": ["s3://bucket/{businessDate}/prices.csv"], "schedule": schedule}
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_an_old_schedule_keeps_its_utc_meaning() -> None:
    schedule = config(weekdays=[0, 1, 2, 3, 4], dueBy="06:30", dueDayOffset=1).schedule
    assert schedule is not None
    assert schedule.timezone == "UTC"
    assert schedule.due_at(date(2026, 3, 6)) == utc(2026, 3, 7, 6, 30)
    assert schedule.expected_at(date(2026, 3, 6)) == utc(2026, 3, 7, 6, 30)


def test_a_stored_schedule_round_trips() -> None:
    original = config(timezone="Europe/London", holidays="GB-ENG", expectedBy="05:00", dueBy="07:00",
                      extraHolidays=["2026-12-24"], since="2026-01-05")
    assert DatasetConfig.from_item(original.to_item()) == original


@pytest.mark.parametrize(
    ("schedule", "field", "words"),
    [
        ({"timezone": "Mars/Olympus"}, "schedule.timezone", "IANA"),
        ({"holidays": "ZZ"}, "schedule.holidays", "not a country"),
        ({"holidays": "GB-XYZ"}, "schedule.holidays", "not a subdivision"),
        ({"calendar": "XXXX"}, "schedule.calendar", "exchange code"),
        ({"expectedBy": "25:00"}, "schedule.expectedBy", "HH:MM"),
        ({"dueBy": "6pm"}, "schedule.dueBy", "HH:MM"),
        ({"startGraceMinutes": -1}, "schedule.startGraceMinutes", "greater than or equal"),
        ({"stuckAfterMinutes": 0}, "schedule.stuckAfterMinutes", "greater than or equal"),
        ({"since": "2026-02-30"}, "schedule.since", "YYYY-MM-DD"),
        ({"extraHolidays": ["2026-01-02"], "extraBusinessDays": ["2026-01-02"]}, "schedule", "both list"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_clear_message(schedule: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        config(**schedule)
    assert any(key.startswith(field) and words in message for key, message in caught.value.fields.items()), (
        caught.value.fields
    )


def test_a_bad_schedule_in_a_registry_file_names_the_dataset() -> None:
    good = {"datasetName": "a", "locations": ["s3://bucket/{businessDate}/x.csv"]}
    bad = {"datasetName": "b", "locations": ["s3://bucket/{businessDate}/y.csv"], "schedule": {"timezone": "Nowhere"}}
    with pytest.raises(ValidationFailed) as caught:
        parse_dataset_documents([good, bad])
    assert list(caught.value.fields) == ["datasets[1] (b).schedule.timezone"]


def test_codes_are_normalised_to_upper_case() -> None:
    schedule = config(holidays="gb-eng", calendar="xnys").schedule
    assert schedule is not None
    assert (schedule.holidays, schedule.calendar) == ("GB-ENG", "XNYS")


@pytest.mark.parametrize(
    ("day", "due_utc"),
    [
        (date(2026, 3, 27), utc(2026, 3, 27, 18, 0)),  # Friday before the spring change: GMT
        (date(2026, 3, 30), utc(2026, 3, 30, 17, 0)),  # Monday after: BST
        (date(2026, 10, 23), utc(2026, 10, 23, 17, 0)),  # Friday before the autumn change: BST
        (date(2026, 10, 26), utc(2026, 10, 26, 18, 0)),  # Monday after: GMT
    ],
)
def test_london_due_times_follow_daylight_saving(day: date, due_utc: datetime) -> None:
    schedule = config(timezone="Europe/London", dueBy="18:00").schedule
    assert schedule is not None
    assert schedule.due_at(day) == due_utc


@pytest.mark.parametrize(
    ("day", "due_utc"),
    [
        (date(2026, 3, 6), utc(2026, 3, 6, 21, 30)),  # EST, UTC-5
        (date(2026, 3, 9), utc(2026, 3, 9, 20, 30)),  # EDT, UTC-4
        (date(2026, 10, 30), utc(2026, 10, 30, 20, 30)),
        (date(2026, 11, 2), utc(2026, 11, 2, 21, 30)),
    ],
)
def test_new_york_due_times_follow_daylight_saving(day: date, due_utc: datetime) -> None:
    schedule = config(timezone="America/New_York", dueBy="16:30").schedule
    assert schedule is not None
    assert schedule.due_at(day) == due_utc


def test_a_local_time_skipped_by_the_clock_change_takes_the_earlier_offset() -> None:
    schedule = config(timezone="Europe/London", dueBy="01:30", weekdays=[6]).schedule
    assert schedule is not None
    # 01:30 does not exist in London on 2026-03-29; read with GMT it is 01:30 UTC.
    assert schedule.due_at(date(2026, 3, 29)) == utc(2026, 3, 29, 1, 30)


def test_expected_by_is_the_last_such_time_before_the_due_time() -> None:
    same_day = config(expectedBy="05:00", dueBy="07:00").schedule
    evening_before = config(expectedBy="22:00", dueBy="06:00", dueDayOffset=1).schedule
    assert same_day is not None
    assert evening_before is not None
    assert same_day.expected_at(date(2026, 3, 2)) == utc(2026, 3, 2, 5, 0)
    assert evening_before.expected_at(date(2026, 3, 2)) == utc(2026, 3, 2, 22, 0)
    assert evening_before.due_at(date(2026, 3, 2)) == utc(2026, 3, 3, 6, 0)


def test_weekends_are_not_business_days() -> None:
    schedule = config().schedule
    assert schedule is not None
    assert schedule.closure(date(2026, 3, 7)) == "weekend"
    assert schedule.closure(date(2026, 3, 6)) is None
    assert config(weekdays=[0]).schedule.closure(date(2026, 3, 3)) == "not a scheduled weekday"  # type: ignore[union-attr]


def test_a_uk_bank_holiday_from_the_holidays_package() -> None:
    schedule = config(timezone="Europe/London", holidays="GB-ENG").schedule
    assert schedule is not None
    assert schedule.closure(date(2026, 8, 31)) == "holiday: Late Summer Bank Holiday (GB-ENG)"
    assert schedule.is_business_day(date(2026, 9, 1))


def test_a_us_market_holiday_from_exchange_calendars() -> None:
    schedule = config(timezone="America/New_York", calendar="XNYS").schedule
    assert schedule is not None
    assert schedule.closure(date(2026, 11, 26)) == "XNYS closed: Thanksgiving"
    assert schedule.is_business_day(date(2026, 11, 27))  # the half day is a session


def test_a_financial_market_from_the_holidays_package() -> None:
    schedule = config(holidays="NYSE").schedule
    assert schedule is not None
    assert schedule.closure(date(2026, 11, 26)) == "holiday: Thanksgiving Day (NYSE)"


def test_extra_dates_add_holidays_and_exceptions() -> None:
    schedule = config(holidays="GB-ENG", extraHolidays=["2026-12-24"], extraBusinessDays=["2026-08-31", "2026-03-07"])
    s = schedule.schedule
    assert s is not None
    assert s.closure(date(2026, 12, 24)) == "holiday (extraHolidays)"
    assert s.is_business_day(date(2026, 8, 31))  # the bank holiday is worked this year
    assert s.is_business_day(date(2026, 3, 7))  # an exception wins over the weekend too


def test_a_date_outside_the_exchange_calendar_falls_back_to_weekdays() -> None:
    schedule = Schedule.model_validate({"calendar": "XNYS"})
    assert schedule.is_business_day(date(2199, 1, 2))  # a Friday far beyond the calendar


def test_registration_is_recorded_once(moto_pipeline: Pipeline) -> None:
    first = utc(2026, 1, 5, 9, 0)
    assert moto_pipeline.datasets.register("prices", first)
    assert not moto_pipeline.datasets.register("prices", utc(2026, 2, 1))
    moto_pipeline.datasets.put(config())
    moto_pipeline.datasets.put_many([config(), parse_dataset({"datasetName": "rates", "locations": ["https://x.example/{yyyymmdd}.csv"]})])
    registrations = moto_pipeline.datasets.registrations()
    assert registrations["prices"] == first
    assert set(registrations) == {"prices", "rates"}
    assert [c.dataset_name for c in moto_pipeline.datasets.all()] == ["prices", "rates"]
