from django.urls import include, path
from rest_framework.routers import SimpleRouter

from lsp import api as lsp_api
from platform_core.api import views
from terminal.api import RunsView

router = SimpleRouter(trailing_slash=True)
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("audit", views.AuditLogViewSet, basename="audit")
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
    path("", include("workspaces.api.urls")),
    path("workspaces/<int:workspace_pk>/runs/", RunsView.as_view(), name="workspace-runs"),
    path("workspaces/<int:workspace_pk>/lsp/", lsp_api.LanguageServerHealthView.as_view(), name="workspace-lsp"),
    path(
        "workspaces/<int:workspace_pk>/lsp/<str:server>/restart/",
        lsp_api.LanguageServerRestartView.as_view(),
        name="workspace-lsp-restart",
    ),
    path(
        "workspaces/<int:workspace_pk>/lsp/<str:server>/frames/",
        lsp_api.LanguageServerFramesView.as_view(),
        name="workspace-lsp-frames",
    ),
]
