"""Shared fixtures: the core over moto (fast) and over Amazon's DynamoDB Local (the real engine)."""

from __future__ import annotations

import copy
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto  # noqa: F401 - registers moto's hook before the core's shared boto3 session exists
import pytest
from moto.core.config import default_user_config as moto_config

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.engine import DynamoDBLocal

# Tests never touch real AWS: fake credentials for moto and local engines.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

# mock_aws() replaces boto3's default session with a new one on every start, and a new session
# parses botocore's service models again: 0.15-0.3 s per `boto3.client(...)` in a mocked test
# (several hundred of them per run). moto intercepts every session made after its import (the
# hook above), so the one default session serves all mocks; each test still gets fresh backends.
moto_config["core"]["reset_boto3_session"] = False


def _reuse_static_file_index() -> None:
    """Every Django test client loads the middleware afresh, and WhiteNoise's middleware then
    indexes STATIC_ROOT again (stat calls, headers and a manifest lookup per file: ~0.12 s per
    client, hundreds of clients per run). Reuse the index built for the same files (paths, sizes,
    mtimes) under the same settings; servers started in subprocesses index as they always do."""
    from whitenoise.base import WhiteNoise, scantree

    built: dict[tuple[Any, ...], dict[str, Any]] = {}
    original = WhiteNoise.update_files_dictionary

    def update_files_dictionary(self: Any, root: str, prefix: str) -> None:
        from django.conf import settings

        tree = tuple(sorted((path, stat.st_mtime_ns, stat.st_size) for path, stat in scantree(root)))
        names = [n for n in dir(settings) if n.startswith("WHITENOISE_")]
        names += ["STORAGES", "STATIC_URL", "STATIC_ROOT", "FORCE_SCRIPT_NAME", "DEBUG"]
        config = tuple((name, repr(getattr(settings, name, None))) for name in names)
        key = (type(self), root, prefix, config, tree)
        if key not in built:
            before = dict(self.files)
            original(self, root, prefix)
            built[key] = {url: f for url, f in self.files.items() if before.get(url) is not f}
        self.files.update(built[key])

    WhiteNoise.update_files_dictionary = update_files_dictionary  # type: ignore[method-assign]


_reuse_static_file_index()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """Hash test passwords with a cheap hasher: PBKDF2's 1,000,000 rounds cost ~0.5 s per
    user on this machine, and most tests make a user or two. Servers that tests start in
    subprocesses (gunicorn) keep the production hashers."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _session_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Session files (the SQLite default's engine) in a folder of this test process, not the
    checkout's var/sessions."""
    from django.conf import settings

    settings.SESSION_FILE_PATH = str(tmp_path_factory.mktemp("sessions"))


def unique_config(**overrides: object) -> PipelineConfig:
    """A config whose table names are unique to one test (isolation on a shared server)."""
    suffix = uuid.uuid4().hex[:10]
    base: dict[str, object] = dict(
        run_table=f"RunTable-{suffix}",
        file_table=f"FileTable-{suffix}",
        dataset_table=f"DatasetTable-{suffix}",
        audit_table=f"AuditTable-{suffix}",
        alert_table=f"AlertTable-{suffix}",
        notification_table=f"NotificationTable-{suffix}",
        channel_table=f"ChannelTable-{suffix}",
        cursor_secret=f"secret-{suffix}",
        region="us-east-1",
    )
    base.update(overrides)
    return PipelineConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def ddb_local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBLocal]:
    """One DynamoDB Local per test process (JVM start-up is paid once per xdist worker) on a free
    loopback port. In memory: on disk every write waits for SQLite's fsyncs (the demo load took
    288 s instead of 27 s, see README); tests that restart the engine use a folder of their own."""
    path = tmp_path_factory.mktemp("dynamodb-local")
    engine = DynamoDBLocal(path=None, log=Path(path) / "dynamodb-local.log")
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def ddb_local_pipeline(ddb_local_server: DynamoDBLocal) -> Pipeline:
    config = unique_config(endpoint_url=ddb_local_server.endpoint_url)
    pipeline = Pipeline(config)
    pipeline.sync_tables()
    return pipeline


TABLE_FIELDS = (
    "run_table", "file_table", "dataset_table", "audit_table", "alert_table", "notification_table", "channel_table",
)
_moto_names: dict[str, str] = {}
_moto_templates: dict[str, dict[str, Any]] = {}  # region -> table name -> moto's table object


def moto_tables(client: Any, **overrides: object) -> PipelineConfig:
    """A config whose tables exist, empty, in the moto mock that is active now (every mock_aws()
    starts without tables). The first call of a test process makes them with sync_tables through
    moto's API and keeps a copy of moto's table objects; later mocks get deep copies of those,
    the same empty tables without ~20 API round trips through moto (0.15-0.3 s per test). The
    names are the same in every mock of a process: each mock starts from empty backends."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    if not _moto_names:
        _moto_names.update({field: getattr(unique_config(), field) for field in TABLE_FIELDS})
    config = unique_config(**{**_moto_names, **overrides})
    names = [getattr(config, field) for field in TABLE_FIELDS]
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][config.region]
    template = _moto_templates.get(config.region)
    if names != list(_moto_names.values()) or set(names) & set(backend.tables) or template is None:
        Pipeline(config, client=client).sync_tables()
        if template is None and names == list(_moto_names.values()) and set(names) <= set(backend.tables):
            _moto_templates[config.region] = copy.deepcopy({name: backend.tables[name] for name in names})
    else:
        backend.tables.update(copy.deepcopy(template))
    return config


@pytest.fixture
def moto_pipeline() -> Iterator[Pipeline]:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        yield Pipeline(moto_tables(client), client=client)


@pytest.fixture(params=["moto", "ddb_local"])
def any_pipeline(request: pytest.FixtureRequest) -> Pipeline:
    """The same contract test against moto and against the real local server."""
    name = "moto_pipeline" if request.param == "moto" else "ddb_local_pipeline"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def web_pipeline(ddb_local_server: DynamoDBLocal, settings: Any) -> Iterator[Pipeline]:
    """The web app's own Pipeline (settings.PIPELINE_CONFIG + wiring) on fresh DynamoDB Local tables."""
    from dataplatform.web import wiring

    settings.PIPELINE_CONFIG = unique_config(endpoint_url=ddb_local_server.endpoint_url)
    wiring.reset()
    pipeline = wiring.get_pipeline()
    pipeline.sync_tables()
    yield pipeline
    wiring.reset()


# Browser tests (tests/browser, tests/alerts, tests/scale): one Chromium per test process, so one
# Playwright (two sync Playwrights in one process refuse to start). Playwright's sync API runs an
# event loop in the test thread; our DB calls there are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """Accepts connections and never answers (a SIGSTOPped engine looks the same)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()
