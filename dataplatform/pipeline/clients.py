"""One boto3 client per process and configuration, with an explicit botocore Config."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from .config import PipelineConfig
from .deadline import enforce
from .metrics import instrument

_lock = threading.Lock()
_clients: dict[tuple[str, PipelineConfig], Any] = {}
# One boto3 session for every client of the process: it parses the service models once, so a
# client costs ~3 ms instead of ~80 ms (seconds on a loaded machine). Sessions are not
# thread-safe, clients are: clients are made under a lock.
_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def new_client(service: str, **kwargs: Any) -> Any:
    """A new boto3 client from the process's shared session. Without credentials anywhere and
    with an explicit endpoint (a local engine), the placeholder credentials local engines accept."""
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        if kwargs.get("endpoint_url") and "aws_access_key_id" not in kwargs and _session.get_credentials() is None:
            kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
        return _session.client(service, **kwargs)


def botocore_config(config: PipelineConfig) -> Config:
    return Config(
        region_name=config.region,
        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        max_pool_connections=config.max_pool_connections,
    )


def _make(service: str, config: PipelineConfig) -> Any:
    kwargs: dict[str, Any] = {"config": botocore_config(config), "region_name": config.region}
    if service == "dynamodb" and config.endpoint_url:
        # Local engines accept any credentials; real AWS uses the normal credential chain.
        kwargs["endpoint_url"] = config.endpoint_url
    client = new_client(service, **kwargs)
    # Count DynamoDB calls and latency per request (logged by the web tier, used by benchmarks),
    # and stop starting attempts once the request's deadline (if any) has passed.
    return enforce(instrument(client)) if service == "dynamodb" else client


def get_client(service: str, config: PipelineConfig) -> Any:
    """The process-wide client for `service` under `config` (created once, thread-safe)."""
    key = (service, config)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _make(service, config)
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests that point the process at another endpoint). The shared
    session stays: it holds no endpoint, and re-parsing the service models is the slow part."""
    with _lock:
        _clients.clear()
