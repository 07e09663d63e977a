"""Routes of the alerts app: the attention page, alert pages, /metrics and their API."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from dataplatform.alerts import metrics, views
from dataplatform.alerts.api import AlertViewSet, ExpectationViewSet

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.attention_page, name="home"),
    path("alerts/", views.alerts_page, name="alerts-page"),
    path("alerts/<str:alert_id>/", views.alert_page, name="alert-page"),
    path("alerts/<str:alert_id>/ack/", views.alert_ack_view, name="alert-ack"),
    path("metrics", metrics.metrics_view, name="metrics"),
]

router = SimpleRouter(trailing_slash=True)
router.register("alerts", AlertViewSet, basename="alert")
router.register("expectations", ExpectationViewSet, basename="expectation")
# Mounted under /api/v1/ by dataplatform/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = list(router.urls)
