"""Quick open's file list and search across files: thin views over workspaces.search.

Viewers may use both: they only read what the files API already lets them read.
"""

from asgiref.sync import async_to_sync
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from platform_core.api.errors import ApiError
from platform_core.api.serializers import StrictSerializer
from workspaces import search
from workspaces.api.files_views import FilesApiView
from workspaces.api.schema import PATH_SCHEMA
from workspaces.roles import VIEW
from workspaces.runtime import get_runtime


class SearchQuerySerializer(StrictSerializer):
    q = serializers.CharField(trim_whitespace=False, max_length=search.MAX_QUERY_CHARS)
    regex = serializers.BooleanField(default=False)
    case = serializers.BooleanField(default=False, help_text="Match case; by default case is ignored.")
    path = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    max_results = serializers.IntegerField(required=False, min_value=1)

    def validate_max_results(self, value):
        # Capped, not refused: asking for more than the server gives is not a mistake in the
        # request, and the answer's `truncated` says when results were left out.
        return min(value, settings.SEARCH_MAX_RESULTS)


class SearchApiView(FilesApiView):
    def handle_exception(self, exc):
        if isinstance(exc, search.SearchError):
            exc = ApiError(exc.status, exc.code, exc.message)
        return super().handle_exception(exc)


class FileListView(SearchApiView):
    @extend_schema(
        summary="Every file of the workspace (for quick open)",
        description="Paths in path order, without .git, .venv, node_modules, __pycache__ and what .gitignore "
        "files ignore; `truncated` says the list was cut short (FILES_LIST_MAX_FILES, or the time limit).",
        responses={200: dict},
    )
    def get(self, request, workspace_pk):
        workspace, _ = self.workspace_root(VIEW)
        listing = async_to_sync(search.list_files)(
            get_runtime(workspace.runtime),
            workspace.pk,
            max_files=settings.FILES_LIST_MAX_FILES,
            timeout=settings.SEARCH_TIMEOUT_SECONDS,
        )
        return Response(listing)


class FileSearchView(SearchApiView):
    @extend_schema(
        summary="Search the workspace's files for text or a regular expression",
        parameters=[
            OpenApiParameter(
                "q",
                # One line: line breaks and NUL are refused (workspaces/search.py).
                {"type": "string", "minLength": 1, "maxLength": search.MAX_QUERY_CHARS, "pattern": "^[^\\n\\r\\x00]+$"},
                required=True,
                description="The text, or with regex=true a pattern.",
            ),
            OpenApiParameter("regex", bool, description="q is a regular expression (ripgrep's syntax)."),
            OpenApiParameter("case", bool, description="Match case (default: ignore case)."),
            OpenApiParameter("path", PATH_SCHEMA, description="Only this folder or file (workspace-relative)."),
            OpenApiParameter(
                "max_results",
                {"type": "integer", "minimum": 1},
                description="At most this many matches; the server caps it at SEARCH_MAX_RESULTS.",
            ),
        ],
        responses={200: dict},
    )
    def get(self, request, workspace_pk):
        workspace, root = self.workspace_root(VIEW)
        serializer = SearchQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        search.check_pattern(query["q"])
        scope = search.scope_for(root, query["path"])
        results = async_to_sync(search.search_text)(
            get_runtime(workspace.runtime),
            workspace.pk,
            scope,
            query["q"],
            regex=query["regex"],
            match_case=query["case"],
            max_results=query.get("max_results", min(search.DEFAULT_MAX_RESULTS, settings.SEARCH_MAX_RESULTS)),
            max_file_bytes=settings.SEARCH_MAX_FILE_BYTES,
            timeout=settings.SEARCH_TIMEOUT_SECONDS,
        )
        return Response({"query": {**query, "path": scope.path}, **results})
