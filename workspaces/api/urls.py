from django.urls import path
from rest_framework.routers import SimpleRouter

from workspaces.api import files_views, search_views
from workspaces.api.views import MembershipViewSet, WorkspaceViewSet

router = SimpleRouter(trailing_slash=True)
router.register("workspaces", WorkspaceViewSet, basename="workspace")

member_list = MembershipViewSet.as_view({"get": "list", "post": "create"})
member_detail = MembershipViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

files_prefix = "workspaces/<int:workspace_pk>/files/"
urlpatterns = [
    *router.urls,
    path("workspaces/<int:workspace_pk>/members/", member_list, name="workspace-member-list"),
    path("workspaces/<int:workspace_pk>/members/<int:pk>/", member_detail, name="workspace-member-detail"),
    path(files_prefix, files_views.FilesView.as_view(), name="workspace-files"),
    path(files_prefix + "content/", files_views.FileContentView.as_view(), name="workspace-file-content"),
    path(files_prefix + "move/", files_views.FileMoveView.as_view(), name="workspace-file-move"),
    path(files_prefix + "upload/", files_views.FileUploadView.as_view(), name="workspace-file-upload"),
    path(files_prefix + "download/", files_views.FileDownloadView.as_view(), name="workspace-file-download"),
    path(files_prefix + "all/", search_views.FileListView.as_view(), name="workspace-file-list"),
    path(files_prefix + "search/", search_views.FileSearchView.as_view(), name="workspace-file-search"),
]
