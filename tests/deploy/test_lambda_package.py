"""bin/package-lambda: a reproducible zip without Django that an isolated interpreter, with only
the unpacked zip on its path, imports and runs against moto (server mode) for an API Gateway and
an EventBridge event. Building needs pip and PyPI (manylinux wheels), as in CI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.config import PipelineConfig

ROOT = Path(__file__).resolve().parents[2]
MAX_ZIPPED = 50 * 1024 * 1024  # Lambda's limit for a zip uploaded directly
MAX_UNPACKED = 250 * 1024 * 1024  # Lambda's limit for the unpacked function


def _build(output: Path) -> Path:
    result = subprocess.run(  # noqa: S603 - our own build script
        [str(ROOT / "bin" / "package-lambda"), "--output", str(output)],
        capture_output=True, text=True, timeout=600, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"sha256 {hashlib.sha256(output.read_bytes()).hexdigest()}" in result.stdout
    return output


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("lambda") / "run-monitor.zip")


def test_the_same_inputs_give_the_same_bytes(package: Path, tmp_path: Path) -> None:
    again = _build(tmp_path / "again.zip")
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(package.read_bytes()).hexdigest()


def test_the_zip_is_the_core_and_its_pinned_dependencies_without_django(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    top = {name.split("/", 1)[0] for name in names}
    assert {"dataplatform", "pydantic", "pydantic_core", "boto3", "botocore"} <= top
    assert not top & {"django", "rest_framework", "bin"}
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]
    assert not [n for n in names if n.endswith(("/RECORD", "/direct_url.json"))]
    # Only the core of the app: nothing of the Django project but its package marker.
    assert {n for n in names if n.startswith("dataplatform/") and not n.startswith("dataplatform/pipeline/")} == {
        "dataplatform/__init__.py"
    }
    assert "dataplatform/pipeline/lambda_handler.py" in names
    assert package.stat().st_size < MAX_ZIPPED
    assert sum(i.file_size for i in infos) < MAX_UNPACKED


def test_the_zip_pins_the_versions_the_app_is_tested_with() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return {name.lower().replace("_", "-"): version for name, _, version in
                (line.partition("==") for line in lines if "==" in line)}

    app, lam = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-lambda.txt")
    for name in ("pydantic", "boto3", "botocore"):
        assert lam[name] == app[name], name
    assert "django" not in lam


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


# Runs in the isolated interpreter: only the unpacked zip (and the standard library) on the path.
ISOLATED = r"""
import json, sys
folder = sys.argv[1]
sys.path.insert(0, folder)
try:
    import django  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("django is importable")
from dataplatform.pipeline import lambda_handler
events = json.loads(sys.stdin.read())
answers = [lambda_handler.api_lambda_handler(event, None) for event in events]
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not module.__file__.startswith((folder, sys.base_prefix))
)
print(json.dumps({"answers": answers, "outside": outside, "path": sys.path}))
"""


def test_the_unpacked_zip_runs_api_gateway_and_eventbridge_events_in_an_isolated_interpreter(
    package: Path, moto_server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "task"
    folder.mkdir()
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder)
    suffix = uuid.uuid4().hex[:8]
    config = PipelineConfig(
        run_table=f"Run-{suffix}", file_table=f"File-{suffix}", dataset_table=f"Dataset-{suffix}",
        audit_table=f"Audit-{suffix}", endpoint_url=moto_server, region="us-east-1",
    )
    client = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    Pipeline(config, client=client).sync_tables()
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    queue_url = sqs.create_queue(QueueName=f"files-{suffix}")["QueueUrl"]
    trigger = {"datasetName": "fx-rates", "businessDate": "2026-01-05", "files": ["s3://bucket-a/fx/a.csv"]}
    events: list[Any] = [
        {"httpMethod": "POST", "path": "/trigger", "body": json.dumps(trigger), "isBase64Encoded": False,
         "requestContext": {"identity": {"userArn": "arn:aws:iam::123456789012:role/ci"}}},
        {"version": "0", "id": "e-1", "detail-type": "Run Trigger", "source": "ci", "time": "2026-01-06T05:00:00Z",
         "detail": {**trigger, "businessDate": "2026-01-06"}},
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "DYNAMODB_ENDPOINT_URL": moto_server, "AWS_ENDPOINT_URL_SQS": moto_server,
        "RUN_TABLE_NAME": config.run_table, "FILE_TABLE_NAME": config.file_table,
        "DATASET_TABLE_NAME": config.dataset_table, "AUDIT_TABLE_NAME": config.audit_table,
        "DISPATCHER": "sqs", "SQS_QUEUE_URL": queue_url, "ENVIRONMENT": "prod",
    }
    # -I: no PYTHON* variables, no user site; -S: no site-packages (where Django is installed).
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-I", "-S", "-c", ISOLATED, str(folder)], input=json.dumps(events),
        capture_output=True, text=True, timeout=120, check=False, cwd=folder, env=env,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outside"] == []
    assert not [p for p in report["path"] if "site-packages" in p]
    api, eventbridge = report["answers"]
    assert api["statusCode"] == 201
    assert json.loads(api["body"])["fileCount"] == 1
    assert (eventbridge["statusCode"], eventbridge["businessDate"], eventbridge["fileCount"]) == (201, "2026-01-06", 1)
    runs = Pipeline(config, client=client).runs
    for run_id in (json.loads(api["body"])["runId"], eventbridge["runId"]):
        run = runs.get(run_id, consistent=True)
        assert (run.status.value, run.environment.value) == ("dispatched", "prod")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2
