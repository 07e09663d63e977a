"""`evaluate_alerts`: one tick (evaluate then deliver, one structured log line), argument
errors, the loop stopping cleanly on SIGTERM, and email through Django's email backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from dataplatform.alerts.mail import DjangoEmailSender, django_email_sender
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.datasets import DatasetConfig
from dataplatform.pipeline.notify import OutgoingEmail
from tests.alerts.conftest import DATASET

pytestmark = [pytest.mark.django_db, pytest.mark.ddb_local]
ROOT = Path(__file__).resolve().parents[2]


def test_once_evaluates_then_delivers_and_logs_one_line(
    pipeline: Pipeline, dataset: DatasetConfig, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline.channels.create({"kind": "email", "name": "oncall", "to": ["oncall@example.com"]}, actor="test")
    out = StringIO()
    with caplog.at_level("INFO", logger="dataplatform.evaluator"):
        call_command("evaluate_alerts", "--once", "--now", "2026-03-02T07:00:00Z", stdout=out)
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (line["event"], line["opened"], line["now"]) == ("evaluate_alerts_tick", 1, "2026-03-02T07:00:00.000000Z")
    assert line["delivered"]["sent"] == 1
    (alert,) = pipeline.alerts.active()
    assert (alert.kind, alert.dataset_name) == ("missing", DATASET)
    # The email went through Django's backend (locmem in tests): text and HTML alternatives.
    (message,) = mail.outbox
    assert message.to == ["oncall@example.com"]
    assert DATASET in message.subject
    assert message.alternatives[0].mimetype == "text/html"
    ticks = [r for r in caplog.records if "evaluate_alerts_tick" in r.getMessage()]
    assert len(ticks) == 1
    # Counted for runmon_notifications_total.
    assert pipeline.alerts.snapshot()["notifications"] == [{"channelKind": "email", "outcome": "sent", "count": 1}]


def test_a_second_tick_opens_nothing_new(pipeline: Pipeline, dataset: DatasetConfig) -> None:
    call_command("evaluate_alerts", "--once", "--now", "2026-03-02T07:00:00Z", stdout=StringIO())
    out = StringIO()
    call_command("evaluate_alerts", "--once", "--now", "2026-03-02T07:01:00Z", stdout=out)
    assert json.loads(out.getvalue())["opened"] == 0
    assert len(pipeline.alerts.active()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--once", "--now", "yesterday"], "--now must be an ISO-8601 instant"),
        (["--every", "30", "--now", "2026-03-02T07:00:00Z"], "--now goes with --once"),
        (["--every", "0"], "--every must be between"),
        (["--once", "--window-days", "40"], "--window-days must be between"),
    ],
)
def test_bad_arguments_are_refused_before_any_tick(pipeline: Pipeline, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("evaluate_alerts", *args, stdout=StringIO())
    assert pipeline.alerts.heartbeat() is None


def test_every_loops_until_sigterm_and_stops_cleanly(pipeline: Pipeline, dataset: DatasetConfig) -> None:
    config = pipeline.config
    env = {
        **os.environ, "DYNAMODB_ENDPOINT_URL": config.endpoint_url or "", "RUN_TABLE_NAME": config.run_table,
        "FILE_TABLE_NAME": config.file_table, "DATASET_TABLE_NAME": config.dataset_table,
        "AUDIT_TABLE_NAME": config.audit_table, "ALERT_TABLE_NAME": config.alert_table,
        "NOTIFICATION_TABLE_NAME": config.notification_table, "CHANNEL_TABLE_NAME": config.channel_table,
        "CURSOR_SECRET": config.cursor_secret, "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), "evaluate_alerts", "--every", "0.2"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        ticks = [process.stdout.readline() for _ in range(2)]  # two ticks: it loops
        assert all(json.loads(line)["event"] == "evaluate_alerts_tick" for line in ticks)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        remaining, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "evaluate_alerts stopped" in remaining
    assert time.monotonic() - started < 10
    assert pipeline.alerts.heartbeat() is not None


def test_the_email_sender_needs_a_host_with_the_smtp_backend(settings: object) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
    settings.EMAIL_HOST = ""  # type: ignore[attr-defined]
    assert django_email_sender() is None
    settings.EMAIL_HOST = "smtp.example.com"  # type: ignore[attr-defined]
    assert isinstance(django_email_sender(), DjangoEmailSender)


def test_the_email_sender_keeps_the_message_id_on_every_attempt() -> None:
    email = OutgoingEmail("subject", ["a@example.com"], "text", "<p>html</p>", "n-123")
    DjangoEmailSender()(email)
    DjangoEmailSender()(email)
    first, second = mail.outbox
    ids = {message.extra_headers["X-Run-Monitor-Message-Id"] for message in (first, second)}
    assert ids == {"n-123"}


def test_the_loop_outlives_a_tick_that_fails_unexpectedly(
    pipeline: Pipeline, dataset: DatasetConfig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A tick that fails with an error the core does not know (say, an item no model can read)
    is logged with its traceback and the loop goes on: a dead loop would end alerting for every
    dataset, and `bin/run` would stop the whole product with it."""
    import threading

    from dataplatform.alerts.management.commands import evaluate_alerts as command

    assert threading.current_thread() is threading.main_thread()  # the loop's SIGTERM handler is ours
    real = command.evaluate
    calls: list[int] = []

    def flaky(p: Pipeline, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("an item no model can read")
        os.kill(os.getpid(), signal.SIGTERM)  # the loop stops after this tick
        return real(p, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(command, "evaluate", flaky)
    out = StringIO()
    with caplog.at_level("ERROR", logger="dataplatform.evaluator"):
        call_command("evaluate_alerts", "--every", "0.05", stdout=out)
    assert len(calls) == 2
    assert "evaluate_alerts stopped" in out.getvalue()
    (failed,) = [r for r in caplog.records if "evaluate_alerts_failed" in r.getMessage()]
    assert json.loads(failed.getMessage())["code"] == "unexpected"
    assert failed.exc_info is not None
    assert pipeline.alerts.heartbeat() is not None  # the second tick ran
