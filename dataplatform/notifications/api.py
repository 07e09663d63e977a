"""The channel API (/api/v1/channels/, superusers only) and the silence API (/api/v1/silences/):
parse, call `notifications.services`, serialize."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from dataplatform.api.base import PipelineViewSet
from dataplatform.api.pagination import CursorPagination, PageQuery
from dataplatform.api.permissions import OPERATE, READ
from dataplatform.api.schema import READ_ERRORS, WRITE_ERRORS, error_responses
from dataplatform.notifications import services
from dataplatform.notifications.serializers import (
    ChannelCreateSerializer,
    ChannelPatchSerializer,
    ChannelSerializer,
    ChannelWithSecretSerializer,
    SilenceCreateSerializer,
    SilenceListQuery,
    SilenceListSerializer,
    SilenceSerializer,
    TestResultSerializer,
    channel_json,
    silence_json,
)
from dataplatform.pipeline.dynamo import Page
from dataplatform.pipeline.errors import NotFound, ValidationFailed

# Channel and silence ids are uuid hex; other text never reaches DynamoDB (JSON 404).
NOTIFY_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}"
CHANNEL_ID = OpenApiParameter("channelId", str, OpenApiParameter.PATH, pattern=f"^{NOTIFY_ID_PATTERN}$",
                              description="The channel id.")
SILENCE_ID = OpenApiParameter("silenceId", str, OpenApiParameter.PATH, pattern=f"^{NOTIFY_ID_PATTERN}$",
                              description="The silence id.")


class SuperuserOnly(BasePermission):
    """Channels hold secrets and decide who gets paged: administrators (superusers) only."""

    message = "Only administrators may manage notification channels."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_superuser)


class NotifyViewSet(PipelineViewSet):
    """Reads the body through a serializer; a refused body still leaves its audit log line."""

    def audited_body(self, serializer_class: type[serializers.Serializer], *, action: str,  # type: ignore[type-arg]
                     target_id: str) -> serializers.Serializer:  # type: ignore[type-arg]
        try:
            if not self.request.META.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" not in self.request.META:
                raise serializers.ValidationError(["A JSON object body is required."], code="missing_body")
            serializer = serializer_class(data=self.request.data)
            serializer.is_valid(raise_exception=True)
        except (serializers.ValidationError, exceptions.ParseError, exceptions.UnsupportedMediaType) as exc:
            fields = sorted(str(name) for name in exc.detail) if isinstance(exc.detail, dict) else []
            error = ValidationFailed("invalid request", dict.fromkeys(fields, "invalid"))
            services.refuse(self.pipeline, self.actor(), action=action, target_id=target_id,
                            target=target_id.replace("#", " "), error=error)
            raise
        return serializer


@extend_schema_view(
    list=extend_schema(summary="List notification channels", parameters=[PageQuery],
                       responses={200: CursorPagination.page_serializer(ChannelSerializer),
                                  **error_responses(*READ_ERRORS)}),
    create=extend_schema(
        summary="Create a notification channel",
        request=ChannelCreateSerializer,
        responses={201: OpenApiResponse(ChannelWithSecretSerializer, description="Created; a generated webhook "
                                        "secret is in `secret`, shown this once."), **error_responses(*WRITE_ERRORS)},
    ),
    retrieve=extend_schema(summary="One channel (no secret)", parameters=[CHANNEL_ID],
                           responses={200: ChannelSerializer, **error_responses(*READ_ERRORS, 404)}),
    partial_update=extend_schema(
        summary="Change a channel: subscriptions, URL, name, enabled, rotate the secret",
        parameters=[CHANNEL_ID],
        request=ChannelPatchSerializer,
        responses={200: ChannelWithSecretSerializer, **error_responses(*WRITE_ERRORS)},
    ),
    destroy=extend_schema(summary="Delete a channel", parameters=[CHANNEL_ID],
                          responses={204: OpenApiResponse(description="Deleted."), **error_responses(*WRITE_ERRORS)}),
)
class ChannelViewSet(NotifyViewSet):
    """Notification channels (SPEC section 9). Secrets are write-only: a generated one is
    answered once, by create (and by PATCH with `rotateSecret`)."""

    permission_classes = [SuperuserOnly]
    lookup_field = "channelId"
    lookup_value_regex = NOTIFY_ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    admin_actions = {"create": "channel.create", "partial_update": "channel.update", "destroy": "channel.delete",
                     "test": "channel.test"}

    def list(self, request: Request) -> Response:
        query = self.parse_query(PageQuery)
        page = self.pipeline.channels.list_page(limit=query["limit"], cursor=query.get("cursor"))
        return self.page_response(Page([channel_json(c) for c in page.items], page.cursor), ChannelSerializer)

    def create(self, request: Request) -> Response:
        body = self.audited_body(ChannelCreateSerializer, action="channel.create", target_id="channel#new")
        result = services.channel_create(self.pipeline, body=dict(body.validated_data), actor=self.actor())
        return Response(channel_json(services.changed(result), secret=result.secret, with_secret=True),
                        status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, channelId: str) -> Response:
        return Response(channel_json(self.pipeline.channels.get(channelId)))

    def partial_update(self, request: Request, channelId: str) -> Response:
        body = self.audited_body(ChannelPatchSerializer, action="channel.update", target_id=f"channel#{channelId}")
        data = dict(body.validated_data)
        enabled = data.pop("enabled", None)
        reason = data.pop("disabledReason", None)
        actor = self.actor()
        if reason is not None and enabled is not False:
            error = ValidationFailed("disabledReason goes with enabled: false.",
                                     {"disabledReason": "only with enabled: false"})
            services.refuse(self.pipeline, actor, action="channel.update", target_id=f"channel#{channelId}",
                            target=f"channel {channelId}", error=error)
            raise error
        secret = None
        try:
            channel = self.pipeline.channels.get(channelId)
        except NotFound as exc:
            services.refuse(self.pipeline, actor, action="channel.update", target_id=f"channel#{channelId}",
                            target=f"channel {channelId}", error=exc)
            raise
        if data or enabled is None:
            result = services.channel_update(self.pipeline, channel_id=channelId, body=data, actor=actor)
            channel, secret = services.changed(result), result.secret
        # Asking for the state the channel is already in changes nothing (no 409 for a PATCH).
        if enabled is False and channel.enabled:
            reason = reason or f"disabled by {actor.name}"
            channel = services.channel_disable(self.pipeline, channel_id=channelId, reason=reason,
                                               actor=actor).channel or channel
        elif enabled is True and not channel.enabled:
            channel = services.channel_enable(self.pipeline, channel_id=channelId, actor=actor).channel or channel
        return Response(channel_json(channel, secret=secret, with_secret=True))

    def destroy(self, request: Request, channelId: str) -> Response:
        services.channel_delete(self.pipeline, channel_id=channelId, actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send a test message through the channel",
        parameters=[CHANNEL_ID],
        request=None,
        responses={200: TestResultSerializer, **error_responses(*WRITE_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, channelId: str) -> Response:
        result = services.channel_send_test(self.pipeline, channel_id=channelId, actor=self.actor())
        outcome = result.outcome
        return Response({
            "channelId": result.channel_id,
            "messageId": result.message_id,
            "ok": outcome.ok,
            "statusCode": outcome.status_code,
            "durationMs": outcome.duration_ms,
            "error": outcome.error,
            "permanent": outcome.permanent,
        })


@extend_schema_view(
    list=extend_schema(summary="List silences (active and upcoming soonest first, expired newest first)",
                       parameters=[SilenceListQuery],
                       responses={200: SilenceListSerializer, **error_responses(*READ_ERRORS)}),
    create=extend_schema(summary="Create a silence", request=SilenceCreateSerializer,
                         responses={201: SilenceSerializer, **error_responses(*WRITE_ERRORS)}),
    destroy=extend_schema(summary="Expire a silence now", parameters=[SILENCE_ID],
                          responses={200: OpenApiResponse(SilenceSerializer, description="The silence, expired."),
                                     **error_responses(*WRITE_ERRORS)}),
)
class SilenceViewSet(NotifyViewSet):
    """Silences: matchers, start, an end that always comes, author, reason, and optionally a
    weekly maintenance window."""

    lookup_field = "silenceId"
    lookup_value_regex = NOTIFY_ID_PATTERN
    http_method_names = ["get", "post", "delete", "head", "options"]
    admin_actions = {"create": "silence.create", "destroy": "silence.expire"}
    action_roles = {"list": READ, "create": OPERATE, "destroy": OPERATE}

    def list(self, request: Request) -> Response:
        if request.query_params.get("status", None) == "":
            # A blank filter is a mistake here, not "all": every status is listed without it.
            raise exceptions.ValidationError({"status": ["Give active, upcoming or expired (or leave it out)."]})
        query = self.parse_query(SilenceListQuery)
        silences = self.pipeline.silences.list(status=query.get("status"))
        return Response({"results": [silence_json(s) for s in silences], "next": None})

    def create(self, request: Request) -> Response:
        body = cast(SilenceCreateSerializer, self.audited_body(SilenceCreateSerializer, action="silence.create",
                                                               target_id="silence#new"))
        result = services.silence_create(self.pipeline, body=body.core_body(), actor=self.actor())
        return Response(silence_json(result.silence), status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, silenceId: str) -> Response:
        result = services.silence_expire(self.pipeline, silence_id=silenceId, actor=self.actor())
        return Response(silence_json(result.silence))

