"""Dispatchers: SQS against moto (batches of 10, partial failures retried) and the local queue."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from dataplatform.pipeline.dispatch import (
    FileMessage,
    LocalDispatcher,
    SqsDispatcher,
    local_dispatcher,
    make_dispatcher,
)
from dataplatform.pipeline.errors import DispatchFailed

from ..conftest import unique_config


def messages(n: int, run_id: str = "run-1", attempt: int = 1) -> list[FileMessage]:
    return [
        FileMessage(run_id=run_id, file_id=f"{run_id}-f{i:03d}", location=f"s3://bucket/key-{i}.csv", attempt=attempt)
        for i in range(n)
    ]


@pytest.fixture
def sqs() -> Iterator[tuple[Any, str]]:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="preprocess")["QueueUrl"]
        yield client, url


def receive_all(client: Any, url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        response = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300)
        batch = response.get("Messages", [])
        if not batch:
            return bodies
        bodies += [json.loads(m["Body"]) for m in batch]


class FlakyClient:
    """Wraps a real SQS client; selected entries are reported as failed a number of times."""

    def __init__(self, client: Any, fail: dict[str, int], *, sender_fault: bool = False) -> None:
        self.client = client
        self.fail = dict(fail)  # file id -> how many more times to fail it
        self.sender_fault = sender_fault
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([json.loads(e["MessageBody"])["fileId"] for e in Entries])
        keep, failed = [], []
        for entry in Entries:
            file_id = json.loads(entry["MessageBody"])["fileId"]
            if self.fail.get(file_id, 0) > 0:
                self.fail[file_id] -= 1
                failed.append(
                    {"Id": entry["Id"], "SenderFault": self.sender_fault, "Code": "InternalError", "Message": "boom"}
                )
            else:
                keep.append(entry)
        response: dict[str, Any] = {"Successful": [], "Failed": failed}
        if keep:
            response["Successful"] = self.client.send_message_batch(QueueUrl=QueueUrl, Entries=keep)["Successful"]
        return response


def test_one_message_per_file_in_batches_of_ten(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    batches: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        batches.append(len(params["Entries"]))
        assert len({e["Id"] for e in params["Entries"]}) == len(params["Entries"])  # ids unique per batch

    client.meta.events.register("before-parameter-build.sqs.SendMessageBatch", count)
    sent = messages(25, attempt=2)
    SqsDispatcher(client, url).dispatch(sent)
    assert batches == [10, 10, 5]
    bodies = receive_all(client, url)
    assert sorted(b["fileId"] for b in bodies) == sorted(m.file_id for m in sent)
    assert {(b["runId"], b["attempt"]) for b in bodies} == {("run-1", 2)}
    assert {FileMessage.from_json(json.dumps(b)) for b in bodies} == set(sent)


def test_a_partially_failed_batch_is_retried_and_delivered_once(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    flaky = FlakyClient(client, {"run-1-f003": 1, "run-1-f012": 2})
    delays: list[float] = []
    SqsDispatcher(flaky, url, sleep=delays.append).dispatch(messages(15))
    bodies = receive_all(client, url)
    assert sorted(b["fileId"] for b in bodies) == [f"run-1-f{i:03d}" for i in range(15)]
    # Only the failed entries are resent: batch 1 (10), retry of f003; batch 2 (5), f012 twice.
    assert [len(c) for c in flaky.calls] == [10, 1, 5, 1, 1]
    assert flaky.calls[1] == ["run-1-f003"]
    assert delays == [0.05, 0.05, 0.1]  # exponential backoff per batch


def test_entries_that_keep_failing_are_reported_never_dropped(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    flaky = FlakyClient(client, {"run-1-f004": 99, "run-1-f011": 99})
    with pytest.raises(DispatchFailed) as info:
        SqsDispatcher(flaky, url, max_attempts=3, sleep=lambda _: None).dispatch(messages(12))
    assert sorted(info.value.failed_ids) == ["run-1-f004", "run-1-f011"]
    delivered = sorted(b["fileId"] for b in receive_all(client, url))
    assert delivered == [f"run-1-f{i:03d}" for i in range(12) if i not in (4, 11)]
    assert flaky.calls.count(["run-1-f004"]) == 2  # three attempts in all


def test_sender_faults_are_not_resent(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    flaky = FlakyClient(client, {"run-1-f001": 99}, sender_fault=True)
    with pytest.raises(DispatchFailed) as info:
        SqsDispatcher(flaky, url, sleep=lambda _: None).dispatch(messages(3))
    assert info.value.failed_ids == ["run-1-f001"]
    assert len(flaky.calls) == 1


def test_a_failing_request_is_retried_as_a_whole(sqs: tuple[Any, str]) -> None:
    from botocore.exceptions import ClientError

    client, url = sqs
    attempts = {"n": 0}

    class Throttled:
        def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
            attempts["n"] += 1
            if attempts["n"] == 1:
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "SendMessageBatch")
            return dict(client.send_message_batch(**kwargs))

    SqsDispatcher(Throttled(), url, sleep=lambda _: None).dispatch(messages(4))
    assert attempts["n"] == 2
    assert len(receive_all(client, url)) == 4


class OverlapClient:
    """Wraps a real SQS client; the first `parties` requests must all be in flight at the same
    time to pass the barrier (sent one after another, the first would wait and break it)."""

    def __init__(self, client: Any, parties: int) -> None:
        self.client = client
        self.gate = threading.Barrier(parties, timeout=10)
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        with self.lock:
            me = threading.get_ident()
            first = me not in self.threads and len(self.threads) < self.gate.parties
            self.threads.add(me)
        if first:  # each sender thread's first request waits for the others'
            with contextlib.suppress(threading.BrokenBarrierError):
                self.gate.wait()
        return dict(self.client.send_message_batch(**kwargs))


def test_large_dispatches_send_their_batches_at_once(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    overlapping = OverlapClient(client, parties=4)
    sent = messages(120)
    SqsDispatcher(overlapping, url, workers=4).dispatch(sent)
    assert not overlapping.gate.broken, "the batches were not sent at the same time"
    bodies = receive_all(client, url)
    assert sorted(b["fileId"] for b in bodies) == sorted(m.file_id for m in sent)  # each exactly once


def test_parallel_dispatch_still_reports_every_failed_entry(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    flaky = FlakyClient(client, {"run-1-f004": 99, "run-1-f057": 99, "run-1-f119": 99})
    with pytest.raises(DispatchFailed) as info:
        SqsDispatcher(flaky, url, max_attempts=2, sleep=lambda _: None, workers=8).dispatch(messages(120))
    assert info.value.failed_ids == ["run-1-f004", "run-1-f057", "run-1-f119"]  # in message order
    delivered = sorted(b["fileId"] for b in receive_all(client, url))
    assert delivered == [f"run-1-f{i:03d}" for i in range(120) if i not in (4, 57, 119)]


def test_fifo_queues_get_group_and_deduplication_ids() -> None:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="pre.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        sent = messages(3)
        dispatcher = SqsDispatcher(client, url)
        dispatcher.dispatch(sent)
        dispatcher.dispatch(sent)  # the same attempt again: deduplicated by SQS
        assert sorted(b["fileId"] for b in receive_all(client, url)) == sorted(m.file_id for m in sent)


def test_local_dispatcher_is_thread_safe() -> None:
    dispatcher = LocalDispatcher()
    producers, per_producer = 8, 500
    received: list[FileMessage] = []
    lock = threading.Lock()
    done = threading.Event()

    def produce(n: int) -> None:
        batch = messages(per_producer, run_id=f"run-{n}")
        for start in range(0, per_producer, 50):
            dispatcher.dispatch(batch[start : start + 50])

    def consume() -> None:
        while True:
            message = dispatcher.get(timeout=0.05)
            if message is None:
                if done.is_set():
                    return
                continue
            with lock:
                received.append(message)

    consumers = [threading.Thread(target=consume) for _ in range(4)]
    for thread in consumers:
        thread.start()
    threads = [threading.Thread(target=produce, args=(n,)) for n in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in consumers:
        thread.join()
    received += dispatcher.drain()
    assert dispatcher.sent == producers * per_producer
    assert len(received) == producers * per_producer
    assert len({m.file_id for m in received}) == producers * per_producer


def test_local_drain_respects_max_items() -> None:
    dispatcher = LocalDispatcher()
    dispatcher.dispatch(messages(7))
    assert [m.file_id for m in dispatcher.drain(max_items=5)] == [f"run-1-f{i:03d}" for i in range(5)]
    assert dispatcher.waiting() == 2
    assert len(dispatcher.drain()) == 2
    assert dispatcher.get() is None
    assert dispatcher.sent == 7


def test_make_dispatcher_follows_the_config() -> None:
    assert make_dispatcher(unique_config()) is local_dispatcher()
    sqs_dispatcher = make_dispatcher(
        unique_config(dispatcher="sqs", queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/preprocess")
    )
    assert isinstance(sqs_dispatcher, SqsDispatcher)
    assert sqs_dispatcher.workers == unique_config().worker_threads
    with pytest.raises(ValueError, match="queue URL"):
        make_dispatcher(unique_config(dispatcher="sqs"))
