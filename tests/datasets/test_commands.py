"""`load_datasets`: validates the whole file before writing anything."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from dataplatform.pipeline.app import Pipeline
from dataplatform.web import wiring
from tests.pipeline.recording import snapshot

GOOD = [
    {
        "datasetName": "fx-rates",
        "environment": "prod",
        "locations": ["https://rates.example.com/fx/{yyyymmdd}/spot.csv"],
        "schedule": {"weekdays": [0, 1, 2, 3, 4], "dueBy": "17:15"},
    },
    {
        "datasetName": "bonds",
        "locations": ["s3://market/{dataset}/{businessDate}/part-{part:02d}.csv"],
        "parts": 4,
    },
]


@pytest.fixture
def wired(moto_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setattr(wiring._pipelines, "_pipeline", moto_pipeline)
    return moto_pipeline


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_loads_a_json_file(wired: Pipeline, tmp_path: Path) -> None:
    out = StringIO()
    call_command("load_datasets", str(write(tmp_path, "ds.json", {"datasets": GOOD})), stdout=out)
    assert "2 dataset(s) loaded" in out.getvalue()
    assert [c.dataset_name for c in wired.datasets.all()] == ["bonds", "fx-rates"]
    assert wired.datasets.get("bonds").parts == 4


def test_loads_a_yaml_file(wired: Pipeline, tmp_path: Path) -> None:
    text = """
datasets:
  - datasetName: macro
    environment: prod
    locations:
      - "https://stats.example.org/{dataset}/{businessDate}/series-{part}.json"
    parts: 2
    schedule: {weekdays: [0], dueBy: "12:00"}
"""
    call_command("load_datasets", str(write(tmp_path, "ds.yaml", text)), stdout=StringIO())
    assert wired.datasets.get("macro").schedule is not None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", [*GOOD, {"datasetName": "broken", "locations": ["s3://b/{nope}"]}], "unknown placeholder"),
        ("dupe.json", [GOOD[0], GOOD[0]], "more than once"),
        ("syntax.json", '[{"datasetName": ', "not valid JSON"),
        ("syntax.yaml", "datasets: [", "not valid YAML"),
        ("empty.json", [], "non-empty list"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    wired: Pipeline, tmp_path: Path, name: str, content: Any, message: str
) -> None:
    before = snapshot(wired)
    with pytest.raises(CommandError, match=message):
        call_command("load_datasets", str(write(tmp_path, name, content)), stdout=StringIO())
    assert snapshot(wired) == before
    assert wired.datasets.all() == []


def test_missing_file_is_a_clear_error(wired: Pipeline, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_datasets", str(tmp_path / "absent.json"), stdout=StringIO())


def test_dry_run_validates_without_writing(wired: Pipeline, tmp_path: Path) -> None:
    out = StringIO()
    call_command("load_datasets", str(write(tmp_path, "ds.json", GOOD)), "--dry-run", stdout=out)
    assert "2 dataset(s) valid" in out.getvalue()
    assert wired.datasets.all() == []
