"""Every HTML page, error pages included, sends the Content-Security-Policy.

tests/test_browser_csp.py proves in Chromium that the pages work under it.
"""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import include, path

pytestmark = pytest.mark.django_db


def refuse(request):
    raise PermissionDenied


def fail(request):
    raise RuntimeError("a bug")


# The real routes plus two views that fail, for the 403 and 500 pages.
urlpatterns = [
    path("test-forbidden/", refuse),
    path("test-failure/", fail),
    path("", include("platform_core.urls")),
]


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def assert_strict(response, socket_origin="ws://testserver"):
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", socket_origin]


def test_it_sends_the_policy_on_every_page(client, personas):
    workspace = personas.workspace
    assert_strict(client.get("/accounts/login/"))

    client.force_login(personas.site_admin)
    pages = [
        "/",
        "/tokens/",
        "/accounts/password/",
        f"/workspaces/{workspace.pk}/",
        f"/workspaces/{workspace.pk}/members/",
        "/admin/",
        "/admin/platform_core/user/",
        "/admin/language-servers/",
        "/api/docs/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert response["Content-Type"].startswith("text/html"), page
        assert_strict(response)


def test_it_names_the_secure_socket_origin_over_https(client, personas):
    client.force_login(personas.owner)

    response = client.get(f"/workspaces/{personas.workspace.pk}/", secure=True)

    assert_strict(response, socket_origin="wss://testserver")


def test_swagger_ui_loads_its_start_up_script_from_a_file(client, personas):
    client.force_login(personas.owner)

    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=")

    assert "<script>" not in page
    assert '<script src="/api/docs/?script="></script>' in page
    assert script["Content-Type"] == "application/javascript"
    assert b"SwaggerUIBundle(" in script.content


@pytest.mark.parametrize(
    ("url", "status"), [("/no-such-page/", 404), ("/test-forbidden/", 403), ("/test-failure/", 500)]
)
def test_error_pages_send_the_policy(settings, url, status):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)

    response = client.get(url)

    assert response.status_code == status
    assert_strict(response)
