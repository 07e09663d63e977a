"""Fixtures of the channel and silence API and page tests: the web app's Pipeline over moto,
users per role, a local webhook receiver that verifies signatures, a local SMTP server."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from dataplatform.pipeline.app import Pipeline
from dataplatform.web import wiring
from tests.api.conftest import _fresh_throttle_cache, client_for, make_user
from tests.conftest import moto_tables
from tests.pipeline.notify.conftest import Receiver, _serve

__all__ = ["_fresh_throttle_cache", "client_for"]


@pytest.fixture
def pipeline(settings: Any) -> Iterator[Pipeline]:
    """The web app's own Pipeline (what the views use) on fresh moto tables."""
    from moto import mock_aws

    with mock_aws():
        # A client made now (under the mock): the process's shared boto3 session may predate it.
        client = boto3.client("dynamodb", region_name="us-east-1")
        settings.PIPELINE_CONFIG = moto_tables(client)
        wiring.reset()
        p = Pipeline(settings.PIPELINE_CONFIG, client=client)
        wiring._pipelines.set(p)
        yield p
    wiring.reset()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port (set `.secret` to verify signatures)."""
    yield from _serve(Receiver())


class Mailbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server (aiosmtpd) on a free loopback port: (mailbox, port)."""
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def page_client(role: str) -> Client:
    """A Django test client signed in (session) as a user holding `role`."""
    client = Client()
    client.force_login(make_user(role))
    return client


def audit_actions(p: Pipeline, target_id: str) -> list[tuple[str, str]]:
    """(action, outcome) of the stored audit records of a target, oldest first."""
    records = p.audit.for_target(target_id, limit=100).items
    return [(r.action, r.outcome) for r in reversed(records)]


def audit_count(p: Pipeline) -> int:
    """Every stored audit record (test code only: the app never scans)."""
    return int(p.client.scan(TableName=p.config.audit_table, Select="COUNT")["Count"])
