"""Routes of the notifications app: the channel and silence pages and their API."""

from django.urls import URLPattern, URLResolver, path, re_path
from rest_framework.routers import SimpleRouter

from dataplatform.notifications import views
from dataplatform.notifications.api import NOTIFY_ID_PATTERN, ChannelViewSet, SilenceViewSet

CHANNEL = rf"^channels/(?P<channel_id>{NOTIFY_ID_PATTERN})"
SILENCE = rf"^silences/(?P<silence_id>{NOTIFY_ID_PATTERN})"

urlpatterns: list[URLPattern | URLResolver] = [
    path("channels/", views.channels_page, name="channels-page"),
    re_path(rf"{CHANNEL}/edit/$", views.channel_edit, name="channel-edit"),
    re_path(rf"{CHANNEL}/disable/$", views.channel_disable, name="channel-disable"),
    re_path(rf"{CHANNEL}/enable/$", views.channel_enable, name="channel-enable"),
    re_path(rf"{CHANNEL}/delete/$", views.channel_delete, name="channel-delete"),
    re_path(rf"{CHANNEL}/test/$", views.channel_test, name="channel-test"),
    path("silences/", views.silences_page, name="silences-page"),
    path("silences/new/", views.silence_create, name="silence-create"),
    re_path(rf"{SILENCE}/expire/$", views.silence_expire, name="silence-expire"),
]

router = SimpleRouter(trailing_slash=True)
router.register("channels", ChannelViewSet, basename="channel")
router.register("silences", SilenceViewSet, basename="silence")
# Mounted under /api/v1/ by dataplatform/urls.py.
api_urlpatterns: list[URLPattern | URLResolver] = list(router.urls)
