"""POST /api/v1/workspaces/{id}/runs/: run a file or snippet in the warm runner and wait for it."""

import concurrent.futures

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from platform_core.api.errors import ApiError
from platform_core.api.schema import error_responses
from platform_core.api.serializers import StrictSerializer
from terminal.runner import RunnerError, get_runner_manager
from terminal.runner_requests import MAX_ARGS, MAX_CODE_CHARS, InvalidRunRequest, RunTargetNotFound, parse_run_request
from workspaces.api.base import WorkspaceScopedMixin
from workspaces.api.serializers import WorkspaceEntryPathField
from workspaces.models import Workspace
from workspaces.roles import USE_TERMINAL

OUTPUT_LIMIT = 1_000_000  # characters kept per stream


class RunCreateSerializer(StrictSerializer):
    path = serializers.CharField(required=False, trim_whitespace=False)
    code = serializers.CharField(required=False, trim_whitespace=False, allow_blank=True)
    args = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=300, default=60)


class RunFileRequestSerializer(StrictSerializer):
    """Run a file of the workspace."""

    path = WorkspaceEntryPathField(trim_whitespace=False)
    args = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, max_length=MAX_ARGS)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=300, default=60)


class RunCodeRequestSerializer(StrictSerializer):
    """Run a snippet."""

    code = serializers.CharField(trim_whitespace=False, allow_blank=True, max_length=MAX_CODE_CHARS)
    args = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, max_length=MAX_ARGS)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=300, default=60)


# The body is one of the two (RunCreateSerializer validates it, parse_run_request
# insists on exactly one of path and code); the schema says so with oneOf.
RUN_REQUEST_SCHEMA = PolymorphicProxySerializer(
    component_name="RunRequest",
    serializers=[RunFileRequestSerializer, RunCodeRequestSerializer],
    resource_type_field_name=None,
)


class RunResultSerializer(serializers.Serializer):
    exit_code = serializers.IntegerField(allow_null=True)
    stdout = serializers.CharField()
    stderr = serializers.CharField()
    duration_ms = serializers.IntegerField()
    timed_out = serializers.BooleanField()


class RunsView(WorkspaceScopedMixin, APIView):
    @extend_schema(request=RUN_REQUEST_SCHEMA, responses={200: RunResultSerializer, **error_responses(409, 503)})
    def post(self, request, workspace_pk):
        workspace = self.get_workspace(USE_TERMINAL)
        if workspace.status != Workspace.Status.READY:
            raise ApiError(409, "workspace_not_ready", "The workspace is not ready yet.")
        serializer = RunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        timeout = serializer.validated_data.pop("timeout_seconds")
        try:
            run_request = parse_run_request(workspace, serializer.validated_data, allowed_keys={"path", "code", "args"})
        except RunTargetNotFound as error:
            raise ApiError(404, "not_found", str(error)) from error
        except InvalidRunRequest as error:
            raise ApiError(400, "invalid", str(error)) from error

        streams = {"stdout": [], "stderr": []}
        sizes = {"stdout": 0, "stderr": 0}

        async def collect(event):
            if event["type"] == "output" and sizes[event["stream"]] < OUTPUT_LIMIT:
                streams[event["stream"]].append(event["data"])
                sizes[event["stream"]] += len(event["data"])

        manager = get_runner_manager()
        future = manager.run(workspace.pk, run_request, collect)
        timed_out = False
        try:
            result = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            timed_out = True
            manager.stop(workspace.pk).result(timeout=10)
            result = future.result(timeout=10)
        except RunnerError as error:
            raise ApiError(
                503 if error.code == "environment_refresh_failed" else 409,
                error.code,
                error.message,
                {"stderr": error.stderr} if error.stderr else {},
            ) from error
        body = {
            "exit_code": result.exit_code,
            "stdout": "".join(streams["stdout"])[:OUTPUT_LIMIT],
            "stderr": "".join(streams["stderr"])[:OUTPUT_LIMIT],
            "duration_ms": result.duration_ms,
            "timed_out": timed_out,
        }
        return Response(body)
