"""Client creation: one shared session per process, endpoints and configs per client."""

from __future__ import annotations

from botocore.config import Config

from dataplatform.pipeline import clients


def test_clients_share_one_session_but_keep_their_own_endpoint_and_config() -> None:
    first = clients.new_client("dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:1",
                               config=Config(read_timeout=1))
    session = clients._session
    second = clients.new_client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:2",
                                config=Config(read_timeout=7))
    assert clients._session is session is not None
    assert first is not second
    assert first.meta.endpoint_url == "http://127.0.0.1:1"
    assert second.meta.endpoint_url == "http://127.0.0.1:2"
    assert first.meta.region_name == "eu-west-1"
    assert second.meta.config.read_timeout == 7
    clients.reset_clients()
    assert clients._session is session  # endpoints change, the parsed service models stay


def test_a_local_endpoint_without_credentials_gets_placeholder_ones(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(clients, "_session", None)
    client = clients.new_client("dynamodb", region_name="eu-west-1", endpoint_url="http://127.0.0.1:1")
    assert client._request_signer._credentials.access_key == "local"
