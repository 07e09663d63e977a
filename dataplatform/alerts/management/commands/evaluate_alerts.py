"""`python manage.py evaluate_alerts --once [--now ISO-8601]` or `--every SECONDS`.

Each tick evaluates expectations into alert episodes (`pipeline.evaluator.evaluate`), then
delivers what is due (`pipeline.notify.deliver_notifications`, email through Django's email
backend). Any number of these may run at once (conditional writes decide); the Lambda
`alerts_lambda_handler` runs the same tick on a schedule."""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dataplatform.alerts.mail import django_email_sender
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.errors import PipelineError
from dataplatform.pipeline.evaluator import TickResult, evaluate
from dataplatform.pipeline.notify import DeliveryResult, NotifySettings, Transports, deliver_notifications
from dataplatform.pipeline.timeutil import format_ts, parse_ts
from dataplatform.web.wiring import get_pipeline

logger = logging.getLogger("dataplatform.evaluator")


def _instant(value: str) -> datetime:
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise CommandError(f"--now must be an ISO-8601 instant such as 2026-03-02T07:00:00Z, got {value!r}") from exc


def deliver(pipeline: Pipeline, now: datetime) -> DeliveryResult:
    """The evaluator's delivery hook: the notify core's sender tick, email via Django."""
    settings = NotifySettings.from_env()
    transports = Transports(timeout=settings.attempt_timeout, email_sender=django_email_sender())
    return deliver_notifications(pipeline, now, settings=settings, transports=transports)


def tick_line(result: TickResult) -> dict[str, Any]:
    """The one structured log line of a tick: evaluation and delivery together."""
    delivered = result.delivered.as_dict() if isinstance(result.delivered, DeliveryResult) else None
    return {"event": "evaluate_alerts_tick", **result.summary(), "delivered": delivered}


class Command(BaseCommand):
    help = (
        "Evaluate expectations into alert episodes and deliver due notifications: one tick (--once) "
        "or a tick every SECONDS (--every) until SIGINT/SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--once", action="store_true", help="run one tick and exit")
        mode.add_argument("--every", type=float, metavar="SECONDS", help="run a tick every SECONDS until stopped")
        parser.add_argument("--now", help="evaluate as of this ISO-8601 instant (with --once; default: now)")
        parser.add_argument("--window-days", type=int, default=None,
                            help="business dates each tick looks back over (default EVALUATOR_WINDOW_DAYS)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = _instant(options["now"]) if options["now"] else None
        if now is not None and not options["once"]:
            raise CommandError("--now goes with --once (a loop always evaluates the current time).")
        every = options["every"]
        if every is not None and not 0 < every <= 86400:
            raise CommandError("--every must be between 0 and 86400 seconds.")
        window = options["window_days"]
        if window is not None and not 1 <= window <= 31:
            raise CommandError("--window-days must be between 1 and 31.")
        pipeline = get_pipeline()
        if options["once"]:
            if not self._tick(pipeline, now=now, window=window):
                raise CommandError("The tick failed; see the log line above.")
            return
        stop = threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            # Only set the event: the interrupted thread may hold the logging lock.
            stop.set()

        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for stop_signal in (signal.SIGINT, signal.SIGTERM):
                previous[stop_signal] = signal.signal(stop_signal, on_signal)
        try:
            while not stop.is_set():
                self._tick(pipeline, now=None, window=window)
                stop.wait(every)
        finally:
            for restored, handler in previous.items():
                signal.signal(restored, handler)
        self.stdout.write("evaluate_alerts stopped")

    def _tick(self, pipeline: Pipeline, *, now: datetime | None, window: int | None) -> bool:
        try:
            result = evaluate(pipeline, now=now, window_days=window, deliver=deliver)
        except PipelineError as exc:
            # The next tick recomputes everything from the stored state: nothing is lost.
            logger.error(json.dumps({"event": "evaluate_alerts_failed", "code": exc.code, "detail": exc.message,
                                     "now": format_ts(now) if now else None}, sort_keys=True))
            return False
        except Exception as exc:  # a loop that died would end alerting for every dataset
            # Not a refusal the core knows: the traceback goes to the log and the loop goes on (the
            # health page's evaluator check turns stale if every tick fails).
            logger.exception(json.dumps({"event": "evaluate_alerts_failed", "code": "unexpected",
                                         "detail": f"{type(exc).__name__}: {exc}",
                                         "now": format_ts(now) if now else None}, sort_keys=True))
            return False
        line = tick_line(result)
        logger.info(json.dumps(line, sort_keys=True, default=str))
        self.stdout.write(json.dumps(line, sort_keys=True, default=str))
        return True
