"""`manage.py reconcile`: one run, or every run of a dataset and date; prints before/after."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import Update
from dataplatform.pipeline.services import Actor, run_trigger
from runs.management.commands import reconcile
from tests.pipeline.recording import RecordingDispatcher


@pytest.fixture
def p(moto_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    moto_pipeline.dispatcher = RecordingDispatcher()
    monkeypatch.setattr(reconcile, "get_pipeline", lambda: moto_pipeline)
    return moto_pipeline


def make_run(p: Pipeline, date: str = "2026-01-05") -> str:
    request = {"datasetName": "ds", "businessDate": date, "files": ["s3://bucket-a/a.csv", "s3://bucket-a/b.csv"]}
    return run_trigger(p, request=request, actor=Actor(name="t")).run.run_id


def test_reconcile_one_run_prints_before_and_after(p: Pipeline) -> None:
    run_id = make_run(p)
    p.runs.update(run_id, Update(add_values={"pendingFiles": 3}))
    out = StringIO()
    call_command("reconcile", "--run-id", run_id, stdout=out)
    text = out.getvalue()
    assert "pendingFiles" in text
    assert "5 -> 2" in text
    assert "changed" in text
    assert p.runs.get(run_id).pending_files == 2


def test_reconcile_every_run_of_a_dataset_and_date(p: Pipeline) -> None:
    first, second, other_day = make_run(p), make_run(p), make_run(p, "2026-01-06")
    for run_id in (first, second, other_day):
        p.runs.update(run_id, Update(add_values={"failedFiles": 1}))
    out = StringIO()
    call_command("reconcile", "--dataset", "ds", "--date", "2026-01-05", stdout=out)
    assert first in out.getvalue()
    assert second in out.getvalue()
    assert p.runs.get(first).failed_files == p.runs.get(second).failed_files == 0
    assert p.runs.get(other_day).failed_files == 1


@pytest.mark.parametrize(
    "argv",
    [[], ["--dataset", "ds"], ["--run-id", "x", "--dataset", "ds"], ["--dataset", "ds", "--date", "2026-02-30"],
     ["--dataset", "ds", "--date", "2026-03-01"], ["--run-id", "missing"]],
)
def test_bad_arguments_are_errors(p: Pipeline, argv: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("reconcile", *argv, stdout=StringIO(), stderr=StringIO())
