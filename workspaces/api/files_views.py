"""The files API: thin views over workspaces.files, scoped to one workspace."""

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from platform_core.api.errors import ApiError
from platform_core.api.schema import error_responses
from workspaces import files, services
from workspaces.api.base import WorkspaceScopedMixin
from workspaces.api.parsers import UploadParser
from workspaces.api.schema import BELOW_ROOT_PATH_SCHEMA, PATH_SCHEMA
from workspaces.api.serializers import (
    DirectoryListingSerializer,
    FileContentSerializer,
    FileCreateSerializer,
    FileEntrySerializer,
    FileMoveSerializer,
    FileSavedSerializer,
    FileUploadSerializer,
    FileWriteSerializer,
)
from workspaces.models import Workspace
from workspaces.roles import EDIT_FILES, VIEW
from workspaces.runtime import get_runtime

PATH_PARAMETER = OpenApiParameter("path", PATH_SCHEMA)
ENTRY_PATH_PARAMETER = OpenApiParameter("path", BELOW_ROOT_PATH_SCHEMA, required=True)
# Every files operation answers 409 workspace_not_ready while the workspace is not ready.
NOT_READY = error_responses(409)


class FilesApiView(WorkspaceScopedMixin, APIView):
    def workspace_root(self, permission: str):
        workspace = self.get_workspace(permission)
        if workspace.status != Workspace.Status.READY:
            raise ApiError(
                409, "workspace_not_ready", f"The workspace is {workspace.get_status_display().lower()}, not ready yet."
            )
        return workspace, get_runtime(workspace.runtime).root(workspace.pk)

    def query_path(self) -> str:
        return self.request.query_params.get("path", "")

    def handle_exception(self, exc):
        if isinstance(exc, files.FilesError):
            exc = ApiError(exc.status, exc.code, exc.message, exc.details)
        return super().handle_exception(exc)


class FilesView(FilesApiView):
    @extend_schema(parameters=[PATH_PARAMETER], responses={200: DirectoryListingSerializer, **NOT_READY})
    def get(self, request, workspace_pk):
        _, root = self.workspace_root(VIEW)
        return Response(files.list_directory(root, self.query_path()))

    @extend_schema(request=FileCreateSerializer, responses={201: FileEntrySerializer, **NOT_READY})
    def post(self, request, workspace_pk):
        _, root = self.workspace_root(EDIT_FILES)
        serializer = FileCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = files.create(root, serializer.validated_data["path"], serializer.validated_data["type"])
        return Response(entry, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            ENTRY_PATH_PARAMETER,
            OpenApiParameter("recursive", bool, description="Required for non-empty folders."),
        ],
        responses={204: None, **NOT_READY},
    )
    def delete(self, request, workspace_pk):
        workspace, root = self.workspace_root(EDIT_FILES)
        recursive = request.query_params.get("recursive", "").lower() in ("1", "true", "yes")
        kind = files.delete(root, self.query_path(), recursive=recursive)
        services.record_file_deleted(workspace, files.normalise(self.query_path()), kind, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileContentView(FilesApiView):
    @extend_schema(
        parameters=[ENTRY_PATH_PARAMETER],
        responses={200: FileContentSerializer, **NOT_READY, **error_responses(413, 415)},
    )
    def get(self, request, workspace_pk):
        _, root = self.workspace_root(VIEW)
        return Response(files.read_text(root, self.query_path(), max_bytes=settings.FILES_MAX_BYTES))

    @extend_schema(
        parameters=[ENTRY_PATH_PARAMETER],
        request=FileWriteSerializer,
        responses={200: FileSavedSerializer, **NOT_READY},
    )
    def put(self, request, workspace_pk):
        _, root = self.workspace_root(EDIT_FILES)
        serializer = FileWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = files.write_text(
            root,
            self.query_path(),
            serializer.validated_data["content"],
            serializer.validated_data["etag"],
            max_bytes=settings.FILES_MAX_BYTES,
        )
        return Response(saved)


class FileMoveView(FilesApiView):
    @extend_schema(request=FileMoveSerializer, responses={200: FileEntrySerializer, **NOT_READY})
    def post(self, request, workspace_pk):
        _, root = self.workspace_root(EDIT_FILES)
        serializer = FileMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(files.move(root, serializer.validated_data["source"], serializer.validated_data["destination"]))


class FileUploadView(FilesApiView):
    parser_classes = [UploadParser]

    @extend_schema(
        request={"multipart/form-data": FileUploadSerializer}, responses={201: FileEntrySerializer, **NOT_READY}
    )
    def post(self, request, workspace_pk):
        _, root = self.workspace_root(EDIT_FILES)
        serializer = FileUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        entry = files.save_upload(
            root,
            serializer.validated_data["directory"],
            upload.name,
            upload.chunks(),
            upload.size,
            max_bytes=settings.UPLOAD_MAX_BYTES,
            overwrite=serializer.validated_data["overwrite"],
        )
        return Response(entry, status=status.HTTP_201_CREATED)


class FileDownloadView(FilesApiView):
    @extend_schema(parameters=[ENTRY_PATH_PARAMETER], responses={(200, "application/octet-stream"): bytes, **NOT_READY})
    def get(self, request, workspace_pk):
        _, root = self.workspace_root(VIEW)
        handle, name = files.open_for_download(root, self.query_path())
        return FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")
