"""One boto3 client per process and configuration, with an explicit botocore Config."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from .config import PipelineConfig
from .metrics import instrument

_lock = threading.Lock()
_clients: dict[tuple[str, PipelineConfig], Any] = {}


def botocore_config(config: PipelineConfig) -> Config:
    return Config(
        region_name=config.region,
        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        max_pool_connections=config.max_pool_connections,
    )


def _make(service: str, config: PipelineConfig) -> Any:
    session = boto3.session.Session()
    kwargs: dict[str, Any] = {"config": botocore_config(config), "region_name": config.region}
    if service == "dynamodb" and config.endpoint_url:
        kwargs["endpoint_url"] = config.endpoint_url
        # Local engines accept any credentials; real AWS uses the normal credential chain.
        if session.get_credentials() is None:
            kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    client = session.client(service, **kwargs)
    # Count DynamoDB calls and latency per request (logged by the web tier, used by benchmarks).
    return instrument(client) if service == "dynamodb" else client


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
    """Forget cached clients (tests that point the process at another endpoint)."""
    with _lock:
        _clients.clear()
