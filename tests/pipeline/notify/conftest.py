"""Fixtures of the notify tests: real local receivers (HTTP, HTTPS, SMTP) and helpers that
write episodes and outbox items with the exact shape the watch's evaluator writes."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import ssl
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.dynamo import serialize
from dataplatform.pipeline.notify import NotifySettings, Transports, urllib_post
from dataplatform.pipeline.timeutil import format_ts

T0 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool | None

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def alerts(self) -> list[dict[str, Any]]:
        """Each alert a webhook body tells, as (type, data) dicts, batch or single."""
        body = self.json
        if body["type"] == "alert.batch":
            return body["data"]["alerts"]  # type: ignore[no-any-return]
        return [{"type": body["type"], **body["data"]}]


@dataclass
class Receiver:
    """A local HTTP(S) server on a free loopback port that verifies Standard Webhooks
    signatures with the channel secret (the reference library as the receiver)."""

    url: str = ""
    secret: str | None = None
    requests: list[Received] = field(default_factory=list)
    responses: deque[tuple[int, str]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int | tuple[int, str]) -> None:
        for status in statuses:
            self.responses.append(status if isinstance(status, tuple) else (status, "answer"))

    def verified_all(self) -> bool:
        return all(r.verified for r in self.requests)

    def handle(self, path: str, headers: dict[str, str], body: str) -> tuple[int, str]:
        verified: bool | None = None
        if self.secret:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        with self.lock:
            self.requests.append(Received(path, headers, body, verified))
            if verified is False:
                return 401, "bad signature"
            return self.responses.popleft() if self.responses else (200, "ok")


def _serve(receiver: Receiver, context: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, text = receiver.handle(self.path, headers, body)
            payload = text.encode()
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    # A short poll: shutdown() waits for the serve loop to notice (up to 0.5 s with the default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    scheme = "https" if context else "http"
    receiver.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(Receiver())


@pytest.fixture(scope="session")
def local_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (Slack webhooks must be https)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def https_receiver(local_cert: tuple[Path, Path]) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*local_cert)
    yield from _serve(Receiver(), context)


@pytest.fixture
def trusting_post(local_cert: tuple[Path, Path]) -> Any:
    """urllib_post that trusts the local certificate (and still checks it)."""
    context = ssl.create_default_context(cafile=str(local_cert[0]))
    return functools.partial(urllib_post, context=context)


@pytest.fixture
def notify_settings() -> NotifySettings:
    return NotifySettings(max_attempts=5, attempt_timeout=3.0, public_base_url="https://monitor.example.com")


@pytest.fixture
def transports() -> Transports:
    return Transports(timeout=3.0)


# --- episodes and outbox items with the watch's contract shape ------------------------------


def episode(
    p: Pipeline,
    *,
    alert_id: str | None = None,
    kind: str = "missing",
    dataset: str = "bond-prices",
    environment: str = "prod",
    business_date: str = "2026-03-01",
    opened_at: dt.datetime = T0,
    state: str = "open",
    run_id: str | None = None,
) -> dict[str, Any]:
    """Write an episode item as the watch does (only the attributes of its contract)."""
    item: dict[str, Any] = {
        "alertId": alert_id or uuid.uuid4().hex,
        "kind": kind,
        "datasetName": dataset,
        "environment": environment,
        "businessDate": business_date,
        "state": state,
        "openedAt": format_ts(opened_at),
        "summary": f"No {dataset} run for {business_date}: trigger it or check the source.",
    }
    if run_id:
        item["runId"] = run_id
    p.client.put_item(TableName=p.config.alert_table, Item=serialize(item))
    return item


def set_state(p: Pipeline, alert_id: str, state: str, at: dt.datetime) -> None:
    """Ack or resolve an episode as the watch does (UpdateItem of its own attributes only)."""
    names = {"#s": "state"}
    values: dict[str, Any] = {":s": state}
    sets = ["#s = :s"]
    if state == "acknowledged":
        sets += ["ackedAt = :t", "ackedBy = :b"]
        values.update({":t": format_ts(at), ":b": "ops"})
    if state == "resolved":
        sets.append("resolvedAt = :t")
        values[":t"] = format_ts(at)
    p.client.update_item(
        TableName=p.config.alert_table,
        Key=serialize({"alertId": alert_id}),
        UpdateExpression="SET " + ", ".join(sets),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize(values),
    )


def outbox(p: Pipeline, ep: dict[str, Any], type_: str, at: dt.datetime, **extra: Any) -> str:
    """Write an outbox item exactly as the watch's transaction does; returns its id."""
    nid = uuid.uuid4().hex
    item = {
        "notificationId": nid,
        "alertId": ep["alertId"],
        "type": type_,
        "createdAt": format_ts(at),
        "dueAt": format_ts(at),
        "deliveryState": "pending",
        **{k: ep[k] for k in ("kind", "datasetName", "environment", "businessDate", "openedAt", "summary")},
        "state": "resolved" if type_ == "alert.resolved" else ep["state"],
        **({"runId": ep["runId"]} if ep.get("runId") else {}),
        **extra,
    }
    if type_ == "alert.resolved":
        item["resolvedAt"] = format_ts(at)
    p.client.put_item(TableName=p.config.notification_table, Item=serialize(item))
    return nid


def notification(p: Pipeline, nid: str) -> dict[str, Any]:
    item = p.notifications.get(nid)
    assert item is not None
    return item


def webhook_channel(p: Pipeline, url: str, **body: Any) -> tuple[str, str]:
    """Create a webhook channel; returns (channelId, secret shown once)."""
    result = p.channels.create({"kind": "webhook", "name": "ops hook", "url": url, **body}, actor="admin")
    assert result.channel is not None
    assert result.secret is not None
    return result.channel.channel_id, result.secret
