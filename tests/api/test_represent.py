"""`represent` (the fast path of API responses) answers exactly what the documented DRF
output serializer would, for every output serializer and realistic items."""

from __future__ import annotations

from typing import Any

import pytest

from dataplatform.api.represent import represent, to_json
from dataplatform.datasets.api import DatasetSerializer
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.services import Actor, run_cancel, run_retry
from files.serializers import FileSerializer
from runs.serializers import EventSerializer, RunSerializer
from tests.api.conftest import seed_dataset, seed_run


def _same(serializer: Any, item: Any) -> None:
    fast = represent(serializer, item)
    full = dict(serializer(to_json(item)).data)
    assert fast == full
    assert list(fast) == list(full)  # same keys in the same order


@pytest.mark.django_db
def test_represent_equals_the_serializers(pipeline: Pipeline) -> None:
    _same(DatasetSerializer, seed_dataset(pipeline))
    failed = seed_run(pipeline, files=3, fail=2)
    fresh = seed_run(pipeline, files=1, business_date="2024-03-05")
    run_retry(pipeline, run_id=failed.run_id, actor=Actor("tester"))
    cancelled = run_cancel(pipeline, run_id=fresh.run_id, reason="no longer needed", actor=Actor("tester"))
    for run in (failed, pipeline.runs.get(failed.run_id), cancelled):
        _same(RunSerializer, run)
    for record in pipeline.files.iter_run(failed.run_id):
        _same(FileSerializer, record)
    events = pipeline.audit.for_target(failed.run_id, limit=50).items
    assert events
    for event in events:
        _same(EventSerializer, event)
