"""Production settings, security headers, health behind a load balancer, JSON logs."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from dataplatform.web.logs import JsonFormatter
from dataplatform.web.middleware import request_id_var

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="runs.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://runs.example.com",
        DYNAMODB_ENDPOINT_URL="http://127.0.0.1:9",
        DISPATCHER="sqs",
        SQS_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/run-monitor-files",
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_check_deploy_passes_with_production_variables() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY must be set"), ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS must")],
)
def test_production_refuses_to_start_without_required_settings(missing: str, message: str) -> None:
    env = production_env()
    env.pop(missing)
    result = manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr


def test_check_deploy_refuses_the_local_dispatcher_in_production_and_says_why() -> None:
    result = manage("check", "--deploy", env=production_env(DISPATCHER="local"))
    assert result.returncode != 0
    assert "dataplatform.E001" in result.stderr
    assert "DISPATCHER=local in production" in result.stderr
    assert "DISPATCHER=sqs" in result.stderr  # the hint


def test_the_wsgi_application_refuses_to_load_with_the_local_dispatcher_in_production() -> None:
    code = "import dataplatform.wsgi"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=production_env(DISPATCHER="local"), cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DISPATCHER=local in production" in result.stderr
    loads = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=production_env(), cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert loads.returncode == 0, loads.stderr


def test_production_refuses_a_weak_secret_key() -> None:
    result = manage("check", env=production_env(DJANGO_SECRET_KEY="short"))
    assert result.returncode != 0
    assert "at least 50" in result.stderr


def test_csp_and_security_headers_on_every_kind_of_answer(client: Client, db: None) -> None:
    for path in ["/health/live", "/accounts/login/", "/api/v1/runs/", "/no-such-page/"]:
        response = client.get(path)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp, path
        assert "unsafe-eval" not in csp
        assert response["X-Content-Type-Options"] == "nosniff"


def test_health_answers_probes_with_any_host_but_other_paths_do_not(client: Client, settings: object, db: None) -> None:
    settings.ALLOWED_HOSTS = ["runs.example.com"]  # type: ignore[attr-defined]
    settings.SECURE_SSL_REDIRECT = True  # type: ignore[attr-defined]
    probe = client.get("/health/live", HTTP_HOST="10.0.3.17:8000")
    assert probe.status_code == 200
    assert probe.json() == {"status": "ok"}
    assert client.get("/runs/", HTTP_HOST="10.0.3.17:8000").status_code == 400
    assert client.get("/runs/", HTTP_HOST="runs.example.com").status_code == 301  # to https


def test_request_id_is_accepted_or_generated_and_returned(client: Client) -> None:
    assert client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get("/health/live", HTTP_X_REQUEST_ID="bad\nid")["X-Request-ID"]
    assert generated != "bad\nid"
    assert len(generated) == 32


def test_json_log_lines_neutralise_newlines_and_hide_secrets() -> None:
    token = request_id_var.set("req-1")
    try:
        record = logging.LogRecord("dataplatform.api", logging.INFO, __file__, 1, "retry %s", ("x\nFAKE line",), None)
        record.authorization = "Token abc"
        record.detail = {"password": "p", "reason": "two\nlines"}
        from dataplatform.web.middleware import RequestIdFilter

        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "retry x\nFAKE line"
    assert parsed["request_id"] == "req-1"
    assert parsed["authorization"] == "[redacted]"
    assert parsed["detail"] == {"password": "[redacted]", "reason": "two\nlines"}
    assert parsed["time"].endswith("+00:00")


def test_access_log_has_one_json_line_per_request_with_dynamodb_cost(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="dataplatform.access"):
        client.get("/health/live", HTTP_X_REQUEST_ID="trace-7")
    lines = [r for r in caplog.records if r.name == "dataplatform.access"]
    assert len(lines) == 1
    record = lines[0]
    assert record.request_id == "trace-7"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert record.dynamodb_calls == 0  # type: ignore[attr-defined]
    assert json.loads(JsonFormatter().format(record))["path"] == "/health/live"


def test_json_messages_from_the_core_are_merged_not_nested() -> None:
    payload = json.dumps({"event": "audit", "actor": "ops", "reason": "a\nb", "token": "t0ps3cret"})
    record = logging.LogRecord("dataplatform.audit", logging.INFO, __file__, 1, payload, (), None)
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["message"] == "audit"
    assert parsed["actor"] == "ops"
    assert parsed["reason"] == "a\nb"
    assert parsed["token"] == "[redacted]"


def test_collectstatic_and_gunicorn_config_work_with_production_settings(tmp_path: Path) -> None:
    env = production_env(DJANGO_STATIC_ROOT=str(tmp_path / "static"))
    result = manage("collectstatic", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "css" / "app.css").exists()
    assert list((tmp_path / "static").rglob("htmx*.js")), "htmx must be served locally"
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    check = subprocess.run(  # noqa: S603
        [gunicorn, "--check-config", "-c", "gunicorn.conf.py", "dataplatform.wsgi"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_worker_timeout_leaves_room_for_the_largest_documented_trigger() -> None:
    import runpy

    from dataplatform.pipeline.services import MAX_FILES

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "DYNAMODB_"))}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert MAX_FILES == 100_000  # the size README measured; re-measure when it changes
    assert conf["timeout"] >= conf["LARGEST_TRIGGER_SECONDS"] >= 120
    assert conf["timeout"] > conf["_budget"]
