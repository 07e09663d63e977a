from django.urls import path

from dataplatform import health

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("health/", health.page, name="health"),
]
