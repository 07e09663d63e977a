from django.apps import AppConfig


class WebConfig(AppConfig):
    """Page plumbing: template tags (`{% load monitor %}`), middleware, health views."""

    name = "dataplatform.web"
    label = "web"
    verbose_name = "Run Monitor pages"

    def ready(self) -> None:
        from dataplatform.web import checks  # noqa: F401  (registers the system checks)
