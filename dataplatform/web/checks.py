"""System checks of the deployment: a production process refuses settings that only work locally.

Run by every management command (`check`, `check --deploy`, `migrate`) and by `dataplatform.wsgi`
at import, so gunicorn's workers refuse to boot with them too (gunicorn runs no system checks)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

LOCAL_DISPATCHER_IN_PRODUCTION = "dataplatform.E001"


@checks.register(checks.Tags.compatibility)
def check_dispatcher(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """DISPATCHER=local keeps a trigger's messages in one web worker's memory (no worker ever
    sees them, a restart loses them, while the run says `dispatched`): an error in production."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    if settings.PIPELINE_CONFIG.dispatcher != "local":
        return []
    return [
        checks.Error(
            "DISPATCHER=local in production: triggered files would wait in one web worker's memory, "
            "never reach a worker, and be lost on restart, while their runs show `dispatched`.",
            hint="Set DISPATCHER=sqs and SQS_QUEUE_URL (deploy/stack_env.py prints both from the stack).",
            id=LOCAL_DISPATCHER_IN_PRODUCTION,
        )
    ]


def refuse_unsafe_production() -> None:
    """Raise ImproperlyConfigured when a startup check fails (called by the WSGI entry point)."""
    errors = [message for message in check_dispatcher() if message.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.id}: {e.msg} {e.hint}" for e in errors))
