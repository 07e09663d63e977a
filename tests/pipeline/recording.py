"""Test doubles for what leaves the system, and a whole-table snapshot for "nothing written"."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dispatch import FileMessage


class RecordingDispatcher:
    """Records every dispatched message (thread-safe); stands in for SQS."""

    def __init__(self) -> None:
        self.messages: list[FileMessage] = []
        self._lock = threading.Lock()

    def dispatch(self, messages: Sequence[FileMessage]) -> None:
        with self._lock:
            self.messages.extend(messages)

    def take(self) -> list[FileMessage]:
        with self._lock:
            out, self.messages = self.messages, []
        return out


def snapshot(p: Pipeline) -> dict[str, list[dict[str, Any]]]:
    """Every item of the four tables (a test-only Scan), sorted, to compare before/after."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in (p.config.run_table, p.config.file_table, p.config.dataset_table, p.config.audit_table):
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = p.client.scan(**kwargs)
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        out[name] = sorted(items, key=repr)
    return out


def audit_records(p: Pipeline, run_id: str) -> list[Any]:
    records = []
    page = p.audit.for_target(run_id, limit=100)
    records += page.items
    while page.cursor:
        page = p.audit.for_target(run_id, limit=100, cursor=page.cursor)
        records += page.items
    return records


def assert_refused_and_audited(p: Pipeline, before: dict[str, list[dict[str, Any]]], action: str) -> None:
    """Nothing changed but one new audit record saying `action` was refused (SPEC: every admin
    action, allowed or refused, leaves one audit record)."""
    after = snapshot(p)
    audit = p.config.audit_table
    assert {k: v for k, v in after.items() if k != audit} == {k: v for k, v in before.items() if k != audit}
    new = [item for item in after[audit] if item not in before[audit]]
    assert len(new) == 1, new
    assert len(after[audit]) == len(before[audit]) + 1
    assert new[0]["action"]["S"] == action
    assert new[0]["outcome"]["S"] == "refused"
