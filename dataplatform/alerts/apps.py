from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """The watch's web half: the attention page, alert pages and API, expectations API,
    /metrics, and the evaluate_alerts command."""

    name = "dataplatform.alerts"
    label = "alerts"
