"""The composition root of the core: one object holding config, client and repositories.

The Lambda handler, the web app and the simulator each build one `Pipeline` per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .alerts import AlertRepository
from .audit import AuditRepository
from .clients import get_client
from .concurrency import TaskPool
from .config import PipelineConfig
from .cursor import CursorCodec
from .datasets import DatasetRepository
from .dispatch import Dispatcher, make_dispatcher
from .notify.channels import ChannelRepository
from .notify.outbox import NotificationRepository
from .notify.silences import SilenceRepository
from .repository import FileRepository, RunRepository

READ_CONCURRENCY = 8


class Pipeline:
    def __init__(
        self, config: PipelineConfig, *, client: Any | None = None, dispatcher: Dispatcher | None = None
    ) -> None:
        self.config = config
        self.client = client if client is not None else get_client("dynamodb", config)
        self.codec = CursorCodec(config.cursor_secret)
        # Independent reads of one request made at once (a count per status, runs per status).
        self.reads = TaskPool(min(config.worker_threads, READ_CONCURRENCY))
        # The writes of one action made at once (the file moves of a large retry, compensation).
        self.tasks = TaskPool(config.worker_threads)
        self.runs = RunRepository(self.client, config, self.codec, reads=self.reads)
        self.files = FileRepository(self.client, config, self.codec, reads=self.reads)
        self.datasets = DatasetRepository(self.client, config, self.codec)
        self.dispatcher: Dispatcher = dispatcher if dispatcher is not None else make_dispatcher(config)
        self.audit = AuditRepository(self.client, config, self.codec)
        self.alerts = AlertRepository(self.client, config, self.codec)
        self.channels = ChannelRepository(self.client, config, self.codec)
        self.silences = SilenceRepository(self.client, config, self.codec)
        self.notifications = NotificationRepository(self.client, config, self.codec)

    def sync_tables(self) -> list[str]:
        from .schema import sync_tables

        return sync_tables(self.client, self.config)


class PipelineHolder:
    """The one Pipeline of a process (a Lambda container, a web worker), made on first use by
    `factory` and shared by every later request of that process."""

    def __init__(self, factory: Callable[[], Pipeline]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None

    def get(self) -> Pipeline:
        """The process's Pipeline, made now if it does not exist yet."""
        pipeline = self._pipeline
        if pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    self._pipeline = self._factory()
                pipeline = self._pipeline
        return pipeline

    def set(self, pipeline: Pipeline | None) -> None:
        """Install (or forget, with None) the process's Pipeline: tests and local runs."""
        with self._lock:
            self._pipeline = pipeline
