from django.urls import include, path
from rest_framework.routers import SimpleRouter

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
]
