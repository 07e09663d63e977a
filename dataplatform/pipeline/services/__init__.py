"""Write side of the core (services), one module per job: `trigger`, `progress` (worker
reports), `retry`, `cancel`, `reconcile`; `protocol` is the move/commit/compensate protocol
they share and `requests` the validated inputs. The public names are re-exported here, so
`from dataplatform.pipeline.services import run_retry` is the way to import them."""

from ..states import RETRY_RUN_SOURCES, run_accepts_retry
from .cancel import run_cancel
from .progress import REPORT_RUN_SOURCES, file_report
from .reconcile import ReconcileResult, run_reconcile, run_recount
from .redispatch import RedispatchResult, default_idle_minutes, run_redispatch
from .requests import (
    MAX_CHECKSUM_LENGTH,
    MAX_ERROR_BYTES,
    MAX_FILE_ID_LENGTH,
    MAX_FILES,
    MAX_MAPPING_BYTES,
    REPORTABLE,
    Actor,
    CancelRequest,
    FileReport,
    RetryRequest,
    TriggerRequest,
)
from .retry import RetryResult, file_retry, retryable_run, run_retry
from .trigger import TriggerResult, idempotency_key, make_file_id, make_run_id, parse_trigger, run_trigger

__all__ = [
    "MAX_CHECKSUM_LENGTH",
    "MAX_ERROR_BYTES",
    "MAX_FILES",
    "MAX_FILE_ID_LENGTH",
    "MAX_MAPPING_BYTES",
    "REPORTABLE",
    "REPORT_RUN_SOURCES",
    "RETRY_RUN_SOURCES",
    "Actor",
    "CancelRequest",
    "FileReport",
    "ReconcileResult",
    "RedispatchResult",
    "RetryRequest",
    "RetryResult",
    "TriggerRequest",
    "TriggerResult",
    "default_idle_minutes",
    "file_report",
    "file_retry",
    "idempotency_key",
    "make_file_id",
    "make_run_id",
    "parse_trigger",
    "retryable_run",
    "run_accepts_retry",
    "run_cancel",
    "run_reconcile",
    "run_recount",
    "run_redispatch",
    "run_retry",
    "run_trigger",
]
