"""Content negotiation of the admin API (its own module: DRF imports it while loading APIView)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request


class BrowsableForSessionUsers(DefaultContentNegotiation):
    """The browsable API only where DEBUG is on and only for users logged in with a session;
    everyone else gets JSON. DRF's browsable pages need inline scripts and styles, which the
    site's Content-Security-Policy forbids, so production never serves them (the documented
    way to browse the API there is /api/v1/docs/)."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        django_user = getattr(request._request, "user", None)
        if not settings.DEBUG or not (django_user and django_user.is_authenticated):
            # Whatever the Accept header says: no HTML for them (and no 406 either).
            for renderer in renderers:
                if type(renderer) is JSONRenderer:
                    return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)
