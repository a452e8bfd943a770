"""Shared fixtures: personas made through the service functions, API clients,
and the real platform processes (Celery worker, daphne) on the test database."""

import asyncio
import inspect
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from platform_core.models import User
from tests import processes
from workspaces import services
from workspaces.models import Membership, Workspace
from workspaces.runtime import get_runtime

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Personas:
    owner: User
    editor: User
    viewer: User
    outsider: User
    site_admin: User
    auditor: User
    workspace: Workspace

    def by_name(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


def make_user(username: str, site_role: str = User.SiteRole.MEMBER) -> User:
    user = User.objects.create_user(username=username, email=f"{username}@example.test", password=PASSWORD)
    if site_role != User.SiteRole.MEMBER:
        user.site_role = site_role
        user.save()
    return user


def log_in(page, username: str) -> None:
    """Sign in through the real login page (a user made by ``make_user``)."""
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))


def make_ready(workspace: Workspace) -> Path:
    """Give a workspace its directory and mark it ready, without the slow venv step
    (provisioning itself is tested through the real worker)."""
    root = get_runtime().root(workspace.pk)
    root.mkdir(parents=True, exist_ok=True)
    Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.READY, progress=100)
    workspace.refresh_from_db()
    return root


@pytest.fixture(autouse=True)
def _clean_workspaces_root():
    # Workspace ids restart with every test database, so directories must not
    # survive from one test to the next.
    yield
    shutil.rmtree(settings.WORKSPACES_ROOT, ignore_errors=True)
    # Tasks a test queued (say, discarding a deleted workspace's files) must
    # not reach the next test's workspace with the same id.
    processes.purge_broker()


@pytest.fixture
def personas(db) -> Personas:
    owner = make_user("olivia")
    editor = make_user("eddie")
    viewer = make_user("vera")
    outsider = make_user("oscar")
    site_admin = make_user("ada", User.SiteRole.ADMIN)
    auditor = make_user("audrey", User.SiteRole.AUDITOR)
    workspace = services.do_create_workspace("Team project", acting_user=owner)
    services.do_add_member(workspace, editor, Membership.Role.EDITOR, acting_user=owner)
    services.do_add_member(workspace, viewer, Membership.Role.VIEWER, acting_user=owner)
    return Personas(owner, editor, viewer, outsider, site_admin, auditor, workspace)


@pytest.fixture
def api():
    """An API client; ``api.as_user(user)`` signs in with a real session."""

    class Client(APIClient):
        def as_user(self, user):
            self.logout()
            if user is not None:
                self.force_login(user)
            return self

    return Client()


@pytest.fixture(scope="session", autouse=True)
def _close_async_test_connections(django_db_setup):
    """Close the database connection that async tests opened through ``sync_to_async``.

    Outside an ``async_to_sync`` context asgiref runs that code on one shared
    executor thread, whose connection Django's teardown never sees; on Postgres
    it would keep the test database from being dropped.
    """
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(scope="session")
def process_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("process-logs")


@pytest.fixture
def celery_worker(django_db_setup, process_logs):
    """A real `celery worker` process consuming the configured broker, for one test.

    Per test, not per session: a worker left running would provision the
    workspaces other tests create and mark ready themselves.
    """
    processes.purge_broker()
    worker = processes.start_worker(process_logs)
    yield worker
    worker.stop()
    processes.purge_broker()


@pytest.fixture
def platform_server(django_db_setup, process_logs):
    """The real ASGI app under daphne, in its own process, on the test database.

    One per test: flushing the test database between tests recreates content
    types and permissions under new ids, which a long-lived server would keep
    cached (guardian looks permissions up through them).
    """
    server, base_url = processes.start_server(process_logs)
    server.base_url = base_url
    yield server
    server.stop()


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy (state lives in another process)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright (Playwright's own browser downloads cannot work offline).

    Module-scoped: Playwright's sync API keeps an event loop running while it
    is open, and async tests in other modules need the thread's loop free.
    """
    import os

    if not CHROMIUM.exists():
        reason = "Debian's chromium is not installed (apt-get install chromium); scripts/test.sh installs it as root"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which
    # trips Django's async-safety check for the test's own ORM calls. Only
    # this process is affected: the servers' environment drops the variable.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, platform_server):
    context = chromium.new_context(base_url=platform_server.base_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture(autouse=True)
def _stop_the_access_watcher(request):
    """Stop the process's access watcher with an async test's event loop, while that loop still runs.

    Consumers start it on the loop of their first socket; each test has its own loop, and a
    listener left to the loop's final cancellation can hang there on a Redis channel layer.
    Only async tests: a sync test (Playwright's) may hold a running loop of its own.
    """
    if inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("_access_watcher_on_this_loop")


@pytest.fixture
async def _access_watcher_on_this_loop():
    yield
    from platform_core import access

    watcher = access.WATCHER.instance
    if watcher is not None and watcher.loop is asyncio.get_running_loop():
        await watcher.close()
