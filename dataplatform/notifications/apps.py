from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Notification channels and silences: their pages and API (the core is pipeline.notify)."""

    name = "dataplatform.notifications"
    label = "notifications"
