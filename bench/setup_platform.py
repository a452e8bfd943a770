"""Prepare a throwaway Devbench data directory for the terminal benchmark.

Run by bench/terminal_bench.py with DATA_DIR pointing at a temporary directory
(after ``manage.py migrate``). It creates a user and a ready workspace through
the project's own service functions, signs the user in, and prints one JSON
line: ``{"workspace_id": ..., "session_cookie": "sessionid=..."}``.
"""

import json
import os
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(REPOSITORY))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")
    import django

    django.setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from workspaces.models import Workspace
    from workspaces.runtime import get_runtime
    from workspaces.services import do_create_workspace

    user = get_user_model().objects.create_user(
        username="bench", email="bench@example.test"
    )  # force_login: no password
    # The service enqueues provisioning for a worker that never runs here; the
    # benchmark needs no venv, only the workspace directory and READY status
    # (what tests/conftest.py's make_ready does).
    workspace = do_create_workspace("terminal-bench", acting_user=user)
    get_runtime().root(workspace.pk).mkdir(parents=True, exist_ok=True)
    Workspace.objects.filter(pk=workspace.pk).update(status=Workspace.Status.READY, progress=100)

    client = Client()
    client.force_login(user)  # a database session row, which daphne reads like a browser's
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    print(json.dumps({"workspace_id": workspace.pk, "session_cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}))


if __name__ == "__main__":
    main()
