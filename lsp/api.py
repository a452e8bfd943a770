"""Language-server endpoints under /api/v1/workspaces/{id}/lsp/: health, restart, recent frames.

Each needs the right to edit the workspace's files, the right a session
needs. Members see their own sessions; site admins see everyone's.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from lsp import services
from lsp.manager import LanguageServerError, NoSession, get_language_server_manager
from lsp.servers import SERVER_NAMES
from platform_core.api.errors import ApiError
from platform_core.api.schema import error_responses
from workspaces.api.base import WorkspaceScopedMixin
from workspaces.roles import EDIT_FILES


class SessionHealthSerializer(serializers.Serializer):
    workspace_id = serializers.IntegerField()
    server = serializers.CharField()
    user = serializers.CharField()
    state = serializers.ChoiceField(choices=["starting", "running", "restarting", "failed", "stopped"])
    running = serializers.BooleanField()
    pid = serializers.IntegerField(allow_null=True)
    restarts = serializers.IntegerField()
    last_exit_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    started_at = serializers.FloatField(allow_null=True)
    last_activity_seconds_ago = serializers.FloatField()
    memory_bytes = serializers.IntegerField(allow_null=True)
    client_attached = serializers.BooleanField()


class FrameSerializer(serializers.Serializer):
    at = serializers.FloatField()
    direction = serializers.ChoiceField(choices=["client", "server"])
    method = serializers.CharField(allow_null=True)
    id = serializers.JSONField(allow_null=True)
    bytes = serializers.IntegerField()
    latency_ms = serializers.FloatField(allow_null=True)


SERVER_PARAMETER = OpenApiParameter("server", str, OpenApiParameter.PATH, enum=sorted(SERVER_NAMES))


def _for_session(view, server: str, action):
    """``action(workspace)`` for the caller's session of ``server``, with its errors as API errors."""
    workspace = view.get_workspace(EDIT_FILES)
    if server not in SERVER_NAMES:
        raise ApiError(404, "not_found", f"No language server named {server[:40]!r}.")
    try:
        return action(workspace)
    except NoSession as error:
        raise ApiError(404, "no_session", str(error)) from error
    except LanguageServerError as error:
        raise ApiError(503, "unavailable", str(error)) from error


class LanguageServerHealthView(WorkspaceScopedMixin, APIView):
    @extend_schema(responses={200: SessionHealthSerializer(many=True)})
    def get(self, request, workspace_pk):
        workspace = self.get_workspace(EDIT_FILES)
        user_id = None if request.user.is_site_admin else request.user.pk
        manager = get_language_server_manager()
        return Response(manager.call(manager.health, workspace.pk, user_id))


class LanguageServerRestartView(WorkspaceScopedMixin, APIView):
    @extend_schema(
        parameters=[SERVER_PARAMETER], request=None, responses={200: SessionHealthSerializer, **error_responses(503)}
    )
    def post(self, request, workspace_pk, server):
        return Response(
            _for_session(self, server, lambda workspace: services.do_restart_server(request.user, workspace, server))
        )


class LanguageServerFramesView(WorkspaceScopedMixin, APIView):
    @extend_schema(parameters=[SERVER_PARAMETER], responses={200: FrameSerializer(many=True), **error_responses(503)})
    def get(self, request, workspace_pk, server):
        manager = get_language_server_manager()
        frames = _for_session(
            self, server, lambda workspace: manager.call(manager.frames, workspace.pk, request.user.pk, server)
        )
        return Response(frames)
