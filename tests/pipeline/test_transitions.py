"""Both state machines, every pair, against moto and the real local engine."""

from __future__ import annotations

import itertools

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import InvalidTransition, NotFound
from dataplatform.pipeline.states import FILE_SOURCES, RUN_SOURCES, FileStatus, RunStatus

from .test_repository_contract import make_files, make_run

RUN_PAIRS = list(itertools.product(RunStatus, RunStatus))
FILE_PAIRS = list(itertools.product(FileStatus, FileStatus))


def test_run_machine_every_pair(any_pipeline: Pipeline) -> None:
    for i, (source, target) in enumerate(RUN_PAIRS):
        run_id = f"m-{i}"
        any_pipeline.runs.create(make_run(run_id, status=source.value))
        before = any_pipeline.runs.table.get({"runId": run_id}, consistent=True)
        if source in RUN_SOURCES[target]:
            moved = any_pipeline.runs.transition(run_id, target)
            assert moved.status is target, (source, target)
            assert any_pipeline.runs.get(run_id, consistent=True).status is target
        else:
            with pytest.raises(InvalidTransition) as info:
                any_pipeline.runs.transition(run_id, target)
            # Nothing may move to `pending`: refused before any write, with no current state read.
            assert info.value.current == (source.value if RUN_SOURCES[target] else None), (source, target)
            assert any_pipeline.runs.table.get({"runId": run_id}, consistent=True) == before, (source, target)


def test_file_machine_every_pair(any_pipeline: Pipeline) -> None:
    for i, (source, target) in enumerate(FILE_PAIRS):
        record = make_files(f"f-{i}", 1, status=source.value)[0]
        any_pipeline.files.put_batch([record])
        before = any_pipeline.files.table.get({"fileId": record.file_id}, consistent=True)
        if source in FILE_SOURCES[target]:
            assert any_pipeline.files.transition(record.file_id, target).status is target, (source, target)
            assert any_pipeline.files.get(record.file_id, consistent=True).status is target
        else:
            with pytest.raises(InvalidTransition) as info:
                any_pipeline.files.transition(record.file_id, target)
            assert info.value.current == source.value, (source, target)
            assert any_pipeline.files.table.get({"fileId": record.file_id}, consistent=True) == before


@pytest.mark.parametrize("target", list(RunStatus))
def test_run_transition_of_a_missing_run_is_not_found_and_creates_nothing(
    any_pipeline: Pipeline, target: RunStatus
) -> None:
    with pytest.raises((NotFound, InvalidTransition)) as info:
        any_pipeline.runs.transition("ghost", target)
    # `pending` has no sources: refused before any write, as an InvalidTransition.
    assert info.type is (InvalidTransition if not RUN_SOURCES[target] else NotFound)
    assert any_pipeline.runs.table.get({"runId": "ghost"}, consistent=True) is None


@pytest.mark.parametrize("target", list(FileStatus))
def test_file_transition_and_move_of_a_missing_file_are_not_found(any_pipeline: Pipeline, target: FileStatus) -> None:
    with pytest.raises(NotFound):
        any_pipeline.files.transition("ghost", target)
    with pytest.raises(NotFound):
        any_pipeline.files.move("ghost", target)
    assert any_pipeline.files.table.get({"fileId": "ghost"}, consistent=True) is None


def test_move_carries_the_previous_status_and_restore_undoes_only_that_move(any_pipeline: Pipeline) -> None:
    record = make_files("mv", 1)[0]
    any_pipeline.files.put_batch([record])
    move = any_pipeline.files.move(record.file_id, FileStatus.FETCHED)
    assert (move.previous, move.record.status) == (FileStatus.PENDING, FileStatus.FETCHED)
    later = any_pipeline.files.move(record.file_id, FileStatus.VERIFIED)
    assert later.previous is FileStatus.FETCHED
    assert later.previous_token == move.token
    assert not any_pipeline.files.restore(move)  # the file moved on: not ours to undo
    assert any_pipeline.files.restore(later)
    restored = any_pipeline.files.table.get({"fileId": record.file_id}, consistent=True)
    assert restored is not None
    assert (restored["status"], restored["moveToken"]) == ("fetched", move.token)
    assert any_pipeline.files.restore(move)
    assert any_pipeline.files.get(record.file_id, consistent=True).status is FileStatus.PENDING
