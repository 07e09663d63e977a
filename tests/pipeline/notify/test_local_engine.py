"""Delivery on the real local engine (moto's conditional writes are not atomic): concurrent
senders tell each episode exactly once, and a sender killed between recording a message and
sending it loses nothing (the next tick sends it, with the same webhook-id)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from collections import Counter

import pytest

from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.clients import botocore_config, new_client
from dataplatform.pipeline.notify import NotifySettings, Transports, deliver_notifications
from dataplatform.pipeline.notify.outbox import delivery_id

from .conftest import T0, Receiver, episode, notification, outbox, set_state, webhook_channel

pytestmark = pytest.mark.ddb_local
MIN = dt.timedelta(minutes=1)
SENDERS = 6


def own_client(p: Pipeline) -> Pipeline:
    """A sender with its own client (like another process)."""
    client = new_client(
        "dynamodb", endpoint_url=p.config.endpoint_url, region_name=p.config.region, config=botocore_config(p.config)
    )
    return Pipeline(p.config, client=client)


def race(p: Pipeline, now: dt.datetime, settings: NotifySettings) -> None:
    senders = [own_client(p) for _ in range(SENDERS)]
    start = threading.Barrier(SENDERS)
    errors: list[BaseException] = []

    def run(sender: Pipeline) -> None:
        try:
            start.wait()
            for _ in range(3):
                deliver_notifications(sender, now=now, settings=settings, transports=Transports(timeout=3.0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


def test_concurrent_senders_tell_each_episode_once(
    ddb_local_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings
) -> None:
    p = ddb_local_pipeline
    _, receiver.secret = webhook_channel(p, receiver.url)
    episodes = [episode(p, dataset=f"ds-{i}") for i in range(5)]
    for ep in episodes:
        outbox(p, ep, "alert.opened", T0)

    race(p, T0, notify_settings)
    for ep in episodes:
        set_state(p, ep["alertId"], "resolved", T0 + 10 * MIN)
        outbox(p, ep, "alert.resolved", T0 + 10 * MIN)
    race(p, T0 + 10 * MIN, notify_settings)
    deliver_notifications(p, now=T0 + 11 * MIN, settings=notify_settings)  # anything a busy lease left

    told = Counter((a["alertId"], a["type"]) for r in receiver.requests for a in r.alerts())
    assert receiver.verified_all()
    assert told == Counter({(ep["alertId"], t): 1 for ep in episodes for t in ("alert.opened", "alert.resolved")})
    assert p.notifications.due("pending", now=T0 + dt.timedelta(days=1), limit=50) == []


CRASHING_SENDER = """
import os, signal, sys
from dataplatform.pipeline.app import Pipeline
from dataplatform.pipeline.config import PipelineConfig
from dataplatform.pipeline.notify import NotifySettings, Transports, deliver_notifications
from dataplatform.pipeline.timeutil import parse_ts

def killed_before_sending(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

pipeline = Pipeline(PipelineConfig.from_env())
deliver_notifications(
    pipeline, now=parse_ts(sys.argv[1]),
    settings=NotifySettings(public_base_url="https://monitor.example.com", lease_seconds=120),
    transports=Transports(http_post=killed_before_sending),
)
"""


def test_a_sender_killed_before_sending_loses_nothing(
    ddb_local_pipeline: Pipeline, receiver: Receiver, notify_settings: NotifySettings
) -> None:
    p = ddb_local_pipeline
    channel_id, receiver.secret = webhook_channel(p, receiver.url)
    nid = outbox(p, episode(p), "alert.opened", T0)
    env = dict(
        os.environ,
        DYNAMODB_ENDPOINT_URL=str(p.config.endpoint_url),
        RUN_TABLE_NAME=p.config.run_table,
        FILE_TABLE_NAME=p.config.file_table,
        DATASET_TABLE_NAME=p.config.dataset_table,
        AUDIT_TABLE_NAME=p.config.audit_table,
        ALERT_TABLE_NAME=p.config.alert_table,
        NOTIFICATION_TABLE_NAME=p.config.notification_table,
        CHANNEL_TABLE_NAME=p.config.channel_table,
    )

    killed = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", CRASHING_SENDER, T0.isoformat()], env=env, capture_output=True, timeout=120, check=False
    )

    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    recorded = p.notifications.get(delivery_id(nid, channel_id))
    assert recorded is not None
    assert recorded["messageId"] == nid
    assert recorded["status"] == "pending"
    assert receiver.requests == []
    # While the dead sender's lease runs, nobody sends; once it expires the next tick does.
    during = deliver_notifications(p, now=T0 + MIN, settings=notify_settings)
    after = deliver_notifications(p, now=T0 + 3 * MIN, settings=notify_settings)

    assert during.busy_channels == 1
    assert after.sent == 1
    assert [r.webhook_id for r in receiver.requests] == [nid]
    assert receiver.verified_all()
    assert notification(p, nid)["outcome"] == "sent"
