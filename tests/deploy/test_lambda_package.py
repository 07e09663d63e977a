"""bin/package-lambda: a reproducible zip without Django that an isolated interpreter of the
Lambda's Python (3.12), with only the unpacked zip on its path, imports and runs against moto
(server mode): the trigger for an API Gateway and an EventBridge event, and an evaluator tick over
datasets whose schedules use a holidays calendar and an exchange calendar (pandas, numpy).
Building needs pip and PyPI (manylinux wheels), as in CI; pip's own cache makes a rebuild cheap."""

from __future__ import annotations

import glob
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.datasets import DatasetConfig

from .template_stack import package_module

ROOT = Path(__file__).resolve().parents[2]
MAX_UNPACKED = 250 * 1024 * 1024  # Lambda's limit for the unpacked function (zip uploaded through S3)


PACKAGE = package_module()
RUNTIME_VERSION = PACKAGE.RUNTIME.removeprefix("python")  # "3.12"


def lambda_python() -> str:
    """An interpreter of the Lambda runtime's Python version: $LAMBDA_PYTHON, python3.12 on the
    PATH, or a pyenv installation. The zip holds CPython 3.12 wheels (pydantic_core, numpy)."""
    candidates = [os.environ.get("LAMBDA_PYTHON", ""), shutil.which(f"python{RUNTIME_VERSION}") or ""]
    pyenv = os.path.expanduser(f"~/.pyenv/versions/{RUNTIME_VERSION}*/bin/python{RUNTIME_VERSION}")
    candidates += sorted(glob.glob(pyenv))
    candidates += [f"/usr/bin/python{RUNTIME_VERSION}", f"/usr/local/bin/python{RUNTIME_VERSION}"]
    for candidate in filter(None, candidates):
        probe = subprocess.run(  # noqa: S603 - asks an interpreter its version
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, check=False, timeout=60,
        )
        if probe.returncode == 0 and probe.stdout.strip() == RUNTIME_VERSION:
            return candidate
    pytest.fail(f"no Python {RUNTIME_VERSION} interpreter (the Lambda runtime {PACKAGE.RUNTIME}): install one "
                f"(pyenv install {RUNTIME_VERSION}) or set LAMBDA_PYTHON to its path")


@dataclass
class Build:
    """bin/package-lambda running in the background."""

    output: Path
    process: subprocess.Popen[str]

    @classmethod
    def start(cls, output: Path) -> Build:
        process = subprocess.Popen(  # noqa: S603 - our own build script
            [str(ROOT / "bin" / "package-lambda"), "--output", str(output)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        return cls(output, process)

    def finish(self) -> Path:
        stdout, stderr = self.process.communicate(timeout=600)
        assert self.process.returncode == 0, stdout + stderr
        assert f"sha256 {hashlib.sha256(self.output.read_bytes()).hexdigest()}" in stdout
        return self.output


REBUILD_TEST = "test_the_same_inputs_give_the_same_bytes"
_rebuilds: list[Build] = []


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Path]:
    """One build per test session, shared by every test here. When the session runs the
    reproducibility test (the last one here), a second build from the same inputs starts once this
    one has finished, and runs in the background while the other tests use the first."""
    built = Build.start(tmp_path_factory.mktemp("lambda") / "run-monitor.zip").finish()
    if any(item.name == REBUILD_TEST for item in request.session.items):
        _rebuilds.append(Build.start(tmp_path_factory.mktemp("lambda-again") / "again.zip"))
    yield built
    for build in _rebuilds:
        if build.process.poll() is None:
            build.process.kill()
            build.process.communicate()


def test_the_zip_is_the_core_and_its_pinned_dependencies_without_django(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    top = {name.split("/", 1)[0] for name in names}
    assert {"dataplatform", "pydantic", "pydantic_core", "boto3", "botocore", "email_validator", "holidays",
            "exchange_calendars", "pandas", "numpy", "tzdata"} <= top
    assert not top & {"django", "rest_framework", "bin"}
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]
    assert not [n for n in names if n.endswith(("/RECORD", "/direct_url.json"))]
    # Only the core of the app: nothing of the Django project but its package marker.
    assert {n for n in names if n.startswith("dataplatform/") and not n.startswith("dataplatform/pipeline/")} == {
        "dataplatform/__init__.py"
    }
    assert "dataplatform/pipeline/lambda_handler.py" in names
    assert "dataplatform/pipeline/notify/email/alert.html" in names  # the alert emails' templates
    # Compiled wheels are the runtime's: CPython 3.12 on x86_64.
    abi = f"cpython-{RUNTIME_VERSION.replace('.', '')}-x86_64-linux-gnu.so"
    extensions = [n for n in names if n.endswith(".so") and "-linux-gnu" in n]
    assert extensions
    assert all(n.endswith(abi) for n in extensions), [n for n in extensions if not n.endswith(abi)][:5]
    # Uploaded through S3 (the template's CodeS3Bucket/CodeS3Key), the limit is the unpacked size.
    assert sum(i.file_size for i in infos) < MAX_UNPACKED


def test_the_zip_pins_the_versions_the_app_is_tested_with() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return {name.lower().replace("_", "-"): version for name, _, version in
                (line.partition("==") for line in lines if "==" in line)}

    app, lam = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-lambda.txt")
    assert "django" not in lam
    for name, version in lam.items():
        if name in app:
            assert version == app[name], f"requirements-lambda.txt pins {name}=={version}, requirements.txt {app[name]}"
        else:  # a dependency of a dependency: the version the dev venv resolved (and the tests ran)
            installed = importlib.metadata.version(name)
            assert version == installed, f"requirements-lambda.txt pins {name}=={version}, the venv has {installed}"
    for name in ("pydantic", "boto3", "botocore", "email-validator", "holidays", "exchange-calendars"):
        assert name in lam, f"requirements-lambda.txt lacks {name} (requirements.txt has {name}=={app[name]})"


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
answers = [lambda_handler.api_lambda_handler(event, None) for event in events["trigger"]]
heavy = sorted(name for name in ("pandas", "numpy", "exchange_calendars") if name in sys.modules)
tick = lambda_handler.alerts_lambda_handler(events["tick"], None)
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not module.__file__.startswith((folder, sys.base_prefix))
)
print(json.dumps({"answers": answers, "heavy_after_trigger": heavy, "tick": tick, "outside": outside,
                  "path": sys.path, "pandas": "pandas" in sys.modules, "version": list(sys.version_info[:2])}))
"""


def test_the_unpacked_zip_runs_the_trigger_and_an_evaluator_tick_in_an_isolated_interpreter(
    package: Path, moto_server: str, tmp_path: Path
) -> None:
    python = lambda_python()
    folder = tmp_path / "task"
    folder.mkdir()
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder)
    suffix = uuid.uuid4().hex[:8]
    config = PipelineConfig(
        run_table=f"Run-{suffix}", file_table=f"File-{suffix}", dataset_table=f"Dataset-{suffix}",
        audit_table=f"Audit-{suffix}", alert_table=f"Alert-{suffix}", notification_table=f"Notification-{suffix}",
        channel_table=f"Channel-{suffix}", endpoint_url=moto_server, region="us-east-1",
    )
    client = boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    web = Pipeline(config, client=client)
    web.sync_tables()
    # Schedules that need the holidays package and an exchange calendar (pandas) in the tick.
    for name, calendar in (("fx-rates", {"holidays": "GB"}), ("eq-prices", {"calendar": "XNYS"})):
        web.datasets.put(DatasetConfig.model_validate({
            "datasetName": name, "environment": "prod", "locations": [f"s3://bucket-a/{name}/{{businessDate}}.csv"],
            "schedule": {"weekdays": [0, 1, 2, 3, 4], "dueBy": "06:00", **calendar},
        }))
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    queue_url = sqs.create_queue(QueueName=f"files-{suffix}")["QueueUrl"]
    trigger = {"datasetName": "fx-rates", "businessDate": "2026-01-05", "files": ["s3://bucket-a/fx/a.csv"]}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events: dict[str, Any] = {
        "trigger": [
            {"httpMethod": "POST", "path": "/trigger", "body": json.dumps(trigger), "isBase64Encoded": False,
             "requestContext": {"identity": {"userArn": "arn:aws:iam::123456789012:role/ci"}}},
            {"version": "0", "id": "e-1", "detail-type": "Run Trigger", "source": "ci",
             "time": "2026-01-06T05:00:00Z", "detail": {**trigger, "businessDate": "2026-01-06"}},
        ],
        "tick": {"source": "aws.scheduler", "detail-type": "Scheduled Event", "time": now},
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "DYNAMODB_ENDPOINT_URL": moto_server, "AWS_ENDPOINT_URL_SQS": moto_server,
        "RUN_TABLE_NAME": config.run_table, "FILE_TABLE_NAME": config.file_table,
        "DATASET_TABLE_NAME": config.dataset_table, "AUDIT_TABLE_NAME": config.audit_table,
        "ALERT_TABLE_NAME": config.alert_table, "NOTIFICATION_TABLE_NAME": config.notification_table,
        "CHANNEL_TABLE_NAME": config.channel_table, "PUBLIC_BASE_URL": "https://monitor.example.com",
        "DISPATCHER": "sqs", "SQS_QUEUE_URL": queue_url, "ENVIRONMENT": "prod",
    }
    # -I: no PYTHON* variables, no user site; -S: no site-packages (where Django is installed).
    result = subprocess.run(  # noqa: S603 - the runtime's interpreter, our code
        [python, "-I", "-S", "-c", ISOLATED, str(folder)], input=json.dumps(events),
        capture_output=True, text=True, timeout=300, check=False, cwd=folder, env=env,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["version"] == [int(part) for part in RUNTIME_VERSION.split(".")]
    assert report["outside"] == []
    assert not [p for p in report["path"] if "site-packages" in p]
    api, eventbridge = report["answers"]
    assert api["statusCode"] == 201
    assert json.loads(api["body"])["fileCount"] == 1
    assert (eventbridge["statusCode"], eventbridge["businessDate"], eventbridge["fileCount"]) == (201, "2026-01-06", 1)
    runs = web.runs
    for run_id in (json.loads(api["body"])["runId"], eventbridge["runId"]):
        run = runs.get(run_id, consistent=True)
        assert (run.status.value, run.environment.value) == ("dispatched", "prod")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2
    # The trigger never loads pandas; the tick does, for the exchange calendar, and evaluates both datasets.
    assert report["heavy_after_trigger"] == []
    assert report["pandas"] is True
    tick = report["tick"]
    assert (tick["datasets"], tick["heartbeatWritten"]) == (2, True)
    assert sum(tick["expectations"].values()) > 0
    assert web.alerts.heartbeat() is not None


def test_the_same_inputs_give_the_same_bytes(package: Path) -> None:
    """Two independent builds (the second started after the first finished) give the same bytes."""
    assert _rebuilds, "the package fixture starts the second build when this test is in the session"
    again = _rebuilds[0].finish()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(package.read_bytes()).hexdigest()
