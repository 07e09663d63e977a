"""Dispatchers: hand registered files to the preprocessor workers, one message per file.

Backends: Amazon SQS (`SendMessageBatch` in groups of 10, partial failures retried, then
reported) and an in-process queue used by the embedded simulator."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

from botocore.exceptions import BotoCoreError, ClientError

from .clients import get_client
from .concurrency import TaskPool
from .config import PipelineConfig
from .errors import DispatchFailed

SQS_BATCH_SIZE = 10  # the SendMessageBatch maximum


@dataclass(frozen=True)
class FileMessage:
    """What a worker needs to process one file."""

    run_id: str
    file_id: str
    location: str
    attempt: int

    def to_json(self) -> str:
        """The message body: camelCase JSON, like the table attributes."""
        return json.dumps(
            {"runId": self.run_id, "fileId": self.file_id, "location": self.location, "attempt": self.attempt},
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, body: str) -> Self:
        """Parse a message body written by `to_json` (what a worker Lambda receives)."""
        data = json.loads(body)
        return cls(
            run_id=str(data["runId"]),
            file_id=str(data["fileId"]),
            location=str(data["location"]),
            attempt=int(data["attempt"]),
        )


class Dispatcher(Protocol):
    def dispatch(self, messages: Sequence[FileMessage]) -> None:
        """Deliver every message or raise DispatchFailed naming the file ids not delivered."""


class SqsDispatcher:
    """Amazon SQS through a real boto3 client.

    Entries the service reports as failed are resent (only those) with exponential backoff;
    entries that still fail, or that SQS rejects as the sender's fault, end in one
    DispatchFailed listing their file ids. Every other batch is still sent first, so one bad
    batch never holds back the rest.

    With `workers` > 1, the batches of a large dispatch (a 10,000-file trigger is 1,000
    requests) are sent by that many threads at once. FIFO queues keep one sender, so the
    files of a run stay in order."""

    def __init__(
        self,
        client: Any,
        queue_url: str,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 1,
    ) -> None:
        if not queue_url:
            raise ValueError("SqsDispatcher needs a queue URL")
        self.client = client
        self.queue_url = queue_url
        self.workers = max(1, workers)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self._sleep = sleep
        self._fifo = queue_url.endswith(".fifo")
        self._senders = TaskPool(1 if self._fifo else self.workers)

    def _entry(self, entry_id: str, message: FileMessage) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Id": entry_id,
            "MessageBody": message.to_json(),
            "MessageAttributes": {"runId": {"DataType": "String", "StringValue": message.run_id}},
        }
        if self._fifo:
            # FIFO queues: files of one run stay ordered; a resend of the same attempt is deduplicated.
            entry["MessageGroupId"] = message.run_id[:128]
            token = f"{message.file_id}#{message.attempt}".encode()
            entry["MessageDeduplicationId"] = hashlib.sha256(token).hexdigest()
        return entry

    def _send_batch(self, batch: Sequence[FileMessage]) -> list[str]:
        """Send one batch (<= 10); returns the file ids that could not be delivered."""
        # Entry ids only need to be unique within one request; positions are.
        pending = {f"m{i}": message for i, message in enumerate(batch)}
        permanent: list[str] = []
        for attempt in range(self.max_attempts):
            entries = [self._entry(entry_id, message) for entry_id, message in pending.items()]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError):
                # The whole request failed (throttling, network) after botocore's own retries.
                failed = [{"Id": entry_id, "SenderFault": False} for entry_id in pending]
            else:
                failed = list(response.get("Failed", []))
            retry: dict[str, FileMessage] = {}
            for failure in failed:
                entry_id = str(failure.get("Id", ""))
                message = pending.get(entry_id)
                if message is None:
                    continue
                if failure.get("SenderFault"):
                    permanent.append(message.file_id)  # resending the same entry cannot succeed
                else:
                    retry[entry_id] = message
            pending = retry
            if not pending:
                break
            if attempt + 1 < self.max_attempts:
                self._sleep(min(self.base_delay * 2**attempt, 2.0))
        return permanent + [m.file_id for m in pending.values()]

    def dispatch(self, messages: Sequence[FileMessage]) -> None:
        """Send one SQS message per file in batches of 10; DispatchFailed lists what was not sent."""
        batches = [messages[start : start + SQS_BATCH_SIZE] for start in range(0, len(messages), SQS_BATCH_SIZE)]
        results = self._senders.map(self._send_batch, batches)
        failed = [file_id for result in results for file_id in result]
        if failed:
            raise DispatchFailed(
                f"{len(failed)} of {len(messages)} file message(s) could not be sent to SQS.", failed_ids=failed
            )


class LocalDispatcher:
    """A thread-safe in-process queue: the embedded default, consumed by the simulator."""

    def __init__(self) -> None:
        self._queue: queue.Queue[FileMessage] = queue.Queue()
        self._lock = threading.Lock()
        self._sent = 0

    @property
    def sent(self) -> int:
        """How many messages were ever dispatched (not how many are waiting)."""
        with self._lock:
            return self._sent

    def dispatch(self, messages: Sequence[FileMessage]) -> None:
        """Queue every message (never fails: the queue is unbounded)."""
        for message in messages:
            self._queue.put(message)
        with self._lock:
            self._sent += len(messages)

    def get(self, timeout: float | None = None) -> FileMessage | None:
        """The next message, waiting up to `timeout` seconds (None: do not wait); None if empty."""
        try:
            if timeout is None:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, max_items: int | None = None) -> list[FileMessage]:
        """Take up to `max_items` waiting messages (all when None) without blocking."""
        out: list[FileMessage] = []
        while max_items is None or len(out) < max_items:
            message = self.get()
            if message is None:
                break
            out.append(message)
        return out

    def waiting(self) -> int:
        """Approximate number of messages waiting."""
        return self._queue.qsize()


_local_lock = threading.Lock()
_local: LocalDispatcher | None = None


def local_dispatcher() -> LocalDispatcher:
    """The process-wide local dispatcher (shared by the web app and the embedded simulator)."""
    global _local
    with _local_lock:
        if _local is None:
            _local = LocalDispatcher()
        return _local


def make_dispatcher(config: PipelineConfig) -> Dispatcher:
    """SQS when `config.dispatcher == "sqs"`, else the process-wide local dispatcher."""
    if config.dispatcher == "sqs":
        if not config.queue_url:
            raise ValueError("the SQS dispatcher needs a queue URL (SQS_QUEUE_URL)")
        return SqsDispatcher(get_client("sqs", config), config.queue_url, workers=config.worker_threads)
    return local_dispatcher()
