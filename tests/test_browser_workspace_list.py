"""The workspace list in headless Chromium: retrying a provisioning that was lost."""

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from platform_core import process_identity
from platform_core.models import Job
from tests import processes
from tests.conftest import log_in, make_user
from workspaces import services
from workspaces.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def lose_the_provisioning_of(workspace) -> None:
    """Leave the workspace as a killed worker did (its job running, the process gone), then sweep."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    gone = process_identity.identity_of(child.pid)
    child.stdin.close()
    child.wait()
    Job.objects.filter(target_id=str(workspace.pk)).update(
        status=Job.Status.RUNNING,
        attempts=1,
        worker_host=gone.host,
        worker_pid=gone.pid,
        worker_process_start=gone.start,
    )
    call_command("sweep_jobs", stdout=io.StringIO())


def test_it_offers_owners_a_retry_for_a_lost_provisioning_that_then_succeeds(page, request):
    owner = make_user("olivia")
    editor = make_user("eddie")
    workspace = services.do_create_workspace("Interrupted", acting_user=owner)
    services.do_add_member(workspace, editor, Membership.Role.EDITOR, acting_user=owner)
    processes.purge_broker()  # its message went down with the worker
    lose_the_provisioning_of(workspace)

    log_in(page, "eddie")
    row = page.locator(f"[data-testid=workspace-row][data-workspace-id='{workspace.pk}']")
    expect(row).to_have_attribute("data-status", "error")
    expect(row.get_by_test_id("workspace-error")).to_contain_text("killed or crashed")
    expect(row.get_by_test_id("retry-provisioning")).to_have_count(0)  # editors cannot re-provision

    page.context.clear_cookies()
    log_in(page, "olivia")
    request.getfixturevalue("celery_worker")
    row.get_by_test_id("retry-provisioning").click()

    expect(row).to_have_attribute("data-status", "ready", timeout=120_000)
    expect(row.get_by_test_id("open-workspace")).to_be_visible()
    assert Job.objects.filter(target_id=str(workspace.pk)).latest("id").status == Job.Status.SUCCEEDED
    assert page.js_errors == []
