from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from lsp import admin as lsp_admin
from platform_core import views
from platform_core.api import views as api_views

api_patterns = [
    path("", include("platform_core.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Anything else under /api/v1/ (a mistyped path, a path parameter that is
    # not a number) answers the API's JSON 404, not Django's HTML page. Paths
    # without the trailing slash still get Django's redirect to the slashed one.
    re_path(r"^.*/$", api_views.not_found, name="not-found"),
]

urlpatterns = [
    path(
        "admin/language-servers/",
        admin.site.admin_view(lsp_admin.sessions_view),
        name="admin-lsp-sessions",
    ),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("tokens/", include(([path("", views.api_tokens, name="tokens")], "accounts"))),
    path("api/v1/", include((api_patterns, "api"))),
    # The split view serves Swagger UI's start-up script as a file of its own (?script), so the
    # page needs no inline script under the Content-Security-Policy.
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="api-docs"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("", include("workspaces.urls")),
]
