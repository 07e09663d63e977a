"""The audit trail: one DynamoDB item and one structured log line per admin action.

AuditTable: HASH `targetId` (the run id), RANGE `eventId` = "<fixed-format UTC ts>#<uuid hex>",
so a run's events sort chronologically and a newest-first page is one Query."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, ClassVar, Literal

from botocore.exceptions import ClientError
from pydantic import Field

from .config import PipelineConfig
from .cursor import CursorCodec
from .dynamo import Expr, Page, Table, is_condition_failure, serialize
from .errors import PipelineError
from .models import MAX_REASON_LENGTH, OptionalJsonMap, UtcTimestamp, _Item, to_plain
from .schema import page_keys
from .storable import MAX_SORT_KEY_BYTES, key_fits, readable_text
from .timeutil import format_ts, utc_now

logger = logging.getLogger("dataplatform.audit")

Outcome = Literal["allowed", "refused"]
# Target ids that cannot be a key (too long, empty, broken Unicode) are filed under this one.
UNKEYABLE_TARGET = "-"
MAX_TARGET_LENGTH = 300


def _shown(value: str, limit: int) -> str:
    """`value` made safe to store and show: valid Unicode, at most `limit` characters."""
    text = readable_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


MAX_DETAIL_BYTES = 8 * 1024


def _bounded_detail(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """`detail` as stored: valid Unicode, at most MAX_DETAIL_BYTES of JSON (a refusal naming
    thousands of bad fields keeps the first 20 names) so the audit item always fits."""
    if detail is None:
        return None
    plain: dict[str, Any] = to_plain(detail)
    if len(json.dumps(plain, default=str).encode()) <= MAX_DETAIL_BYTES:
        return plain
    fields = plain.get("fields")
    names = sorted(str(name) for name in fields)[:20] if isinstance(fields, dict | list) else []
    return {
        "error": str(plain.get("error", ""))[:100],
        "fields": [_shown(name, 100) for name in names],
        "truncated": True,
    }


class AuditRecord(_Item):
    item_kind: ClassVar[str] = "Audit record"
    item_key: ClassVar[str] = "eventId"
    target_id: str = Field(alias="targetId", min_length=1)
    event_id: str = Field(alias="eventId", min_length=1)
    at: UtcTimestamp
    actor: str
    action: str
    target: str
    reason: str | None = None
    outcome: Outcome
    detail: OptionalJsonMap = None
    request_id: str | None = Field(alias="requestId", default=None)

    def log_line(self) -> str:
        """The structured log line: one JSON object on one line (json.dumps escapes newlines)."""
        return json.dumps(
            {
                "event": "audit",
                "actor": self.actor,
                "action": self.action,
                "target": self.target,
                "runId": self.target_id,
                "reason": self.reason,
                "outcome": self.outcome,
                "at": format_ts(self.at),
                "requestId": self.request_id,
                "detail": self.detail,
            },
            sort_keys=True,
            default=str,
            ensure_ascii=True,
        )


# Detail values by which a service says an allowed action changed nothing (a repeated trigger,
# a second cancel, a retry or re-dispatch that found no file).
_NO_CHANGE = {"noop": True, "created": False, "changed": False, "retried": 0, "redispatched": 0}


def _changed_nothing(detail: dict[str, Any] | None) -> bool:
    return any(key in (detail or {}) and (detail or {})[key] == value for key, value in _NO_CHANGE.items())


class AuditRepository:
    def __init__(self, client: Any, config: PipelineConfig, codec: CursorCodec) -> None:
        self.table = Table(client, config.audit_table, codec, page_keys(config, config.audit_table))
        self.runs = Table(client, config.run_table, codec)

    def record(
        self,
        *,
        target_id: str,
        actor: str,
        action: str,
        target: str,
        outcome: Outcome,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        request_id: str | None = None,
        store: bool = True,
    ) -> AuditRecord:
        """Write one audit item and emit one JSON log line on the "dataplatform.audit" logger.

        The log line goes out first, so the action is traceable even when the store is down
        (the write then raises StoreUnavailable to the caller). `store=False` only logs: for
        refusals of invalid input, which must leave every table untouched."""
        at = utc_now()
        # A refusal may name an id that cannot exist (a junk URL, a 5,000-character id): it
        # is still recorded, under "-" with the id shortened in `target`.
        if not key_fits(target_id, limit=MAX_SORT_KEY_BYTES) or len(target_id) > MAX_TARGET_LENGTH:
            target_id = UNKEYABLE_TARGET
        entry = AuditRecord.model_validate(
            {
                "targetId": target_id,
                "eventId": f"{format_ts(at)}#{uuid.uuid4().hex}",
                "at": at,
                "actor": _shown(actor, MAX_TARGET_LENGTH),
                "action": action,
                "target": _shown(target, MAX_TARGET_LENGTH),
                "reason": _shown(reason, MAX_REASON_LENGTH) if reason else None,
                "outcome": outcome,
                "detail": _bounded_detail(detail),
                "requestId": request_id,
            }
        )
        logger.info(entry.log_line())
        if not store:
            return entry
        expr = Expr()
        # The uuid makes the key unique; the condition only guards against a (theoretical) clash.
        self.table.call(
            "put_item",
            Item=serialize(entry.to_item()),
            ConditionExpression=f"attribute_not_exists({expr.name('eventId')})",
            **expr.kwargs(),
        )
        self._stamp_run(entry)
        return entry

    def _stamp_run(self, entry: AuditRecord) -> None:
        """Note the newest allowed event's id on the run it is about (`lastEventId`), so a live
        run page re-reads the trail only when it moved. Only an existing run, only forward; a
        failure is logged (the event itself is stored)."""
        if entry.target_id == "-" or entry.outcome != "allowed" or _changed_nothing(entry.detail):
            return  # a refusal or a no-op changes nothing, not even the run item
        expr = Expr()
        key, last = expr.name("runId"), expr.name("lastEventId")
        event = expr.value(entry.event_id)
        try:
            self.runs.call(
                "update_item",
                Key={"runId": {"S": entry.target_id}},
                UpdateExpression=f"SET {last} = {event}",
                ConditionExpression=f"attribute_exists({key}) AND (attribute_not_exists({last}) OR {last} < {event})",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                logger.warning("run %s not stamped with its newest event: %s", entry.target_id, exc)
        except PipelineError as exc:
            logger.warning("run %s not stamped with its newest event: %s", entry.target_id, exc.message)

    def record_action(
        self,
        *,
        actor: str,
        request_id: str | None,
        action: str,
        run_id: str,
        outcome: Outcome,
        target: str | None = None,
        reason: str | None = None,
        error: PipelineError | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """The one audit record of a service action. A store failure here is logged, not
        raised: the action has already taken effect (or been refused) and its answer must
        stand; the structured log line has already been emitted by then."""
        info = dict(detail or {})
        if error is not None:
            info.update({"error": error.code, "message": error.message})
        try:
            self.record(
                target_id=run_id, actor=actor, action=action, target=target or f"run:{run_id}",
                outcome=outcome,
                reason=reason if reason is not None else (error.message if error is not None else None),
                detail=info, request_id=request_id,
            )
        except (PipelineError, ClientError):
            logger.exception("audit record of %s on %s could not be stored", action, run_id)

    def for_target(self, run_id: str, *, limit: int = 50, cursor: str | None = None) -> Page[AuditRecord]:
        """Audit records of one run, newest first, one signed-cursor page at a time."""
        expr = Expr()
        request: dict[str, Any] = {
            "KeyConditionExpression": f"{expr.name('targetId')} = {expr.value(run_id)}",
            "ScanIndexForward": False,
            **expr.kwargs(),
        }
        return self.table.query_page(
            kind="audit-by-target", params={"target": run_id}, request=request,
            limit=limit, cursor=cursor, load=AuditRecord.from_item,
        )
