"""Channels and silences in Chromium: an administrator creates a webhook channel, sees its secret
once, sends its test message (a local receiver verifies the signature), and creates a silence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from dataplatform.pipeline.app import Pipeline
from tests.browser.conftest import PASSWORD, login, shot
from tests.pipeline.notify.conftest import Receiver, _serve

pytestmark = [pytest.mark.browser, pytest.mark.ddb_local]


@pytest.fixture
def admin(transactional_db: None) -> str:
    User.objects.create_superuser(username="admin", password=PASSWORD, email="admin@example.com")
    return "admin"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(Receiver())


def test_admin_creates_a_webhook_channel_tests_it_and_silences_a_dataset(
    page: Any, live_server: Any, tables: Pipeline, admin: str, receiver: Receiver
) -> None:
    base = live_server.url
    login(page, base, admin, next_path="/channels/")
    expect(page.locator(".empty")).to_contain_text("No channel yet")

    page.select_option("#id_kind", "webhook")
    page.fill("#id_name", "ops hook")
    page.fill("#id_url", receiver.url)
    page.check("#channel-create input[name=kinds][value=missing]")
    page.click("button:has-text('Create channel')")
    secret_box = page.locator("#new-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert secret.startswith("whsec_")
    shot(page, "channels-created-secret")
    receiver.secret = secret

    # Shown once: the page read again never shows it.
    page.goto(f"{base}/channels/")
    row = page.locator(".channel-row", has_text="ops hook")
    expect(row).to_contain_text("enabled")
    expect(row).to_contain_text("kinds: missing")
    assert secret not in page.content()

    row.locator("button:has-text('Send test')").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Test message test_\w+ delivered \(HTTP 200\)"))
    [received] = receiver.requests
    assert received.verified is True
    assert received.json["type"] == "channel.test"
    shot(page, "channels-test-sent")

    page.click("nav >> text=Silences")
    page.wait_for_url(f"{base}/silences/")
    ends = (datetime.now(UTC) + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#id_dataset_name", "bond-prices")
    page.fill("#id_ends_at", ends)
    page.fill("#id_reason", "vendor maintenance")
    page.click("button:has-text('Create silence')")
    expect(page.locator(".messages")).to_contain_text("Silence created")
    active = page.locator("#silences-active")
    expect(active).to_contain_text("bond-prices")
    expect(active).to_contain_text("vendor maintenance")
    shot(page, "silences-created")
    [silence] = tables.silences.all()
    assert (silence.dataset_name, silence.author) == ("bond-prices", "admin")
