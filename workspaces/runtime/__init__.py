"""Workspace runtimes: where a workspace's files live and its processes run.

Everything that touches a workspace's environment asks its runtime; nothing
else calls subprocess or docker directly for workspace work.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from workspaces.runtime.base import ProvisionStep, WorkspaceRuntime
from workspaces.runtime.local import LocalRuntime
from workspaces.runtime.sandbox import sandbox_from_settings


def get_runtime(name: str | None = None) -> WorkspaceRuntime:
    name = name or settings.WORKSPACE_RUNTIME
    if name == "local":
        sandbox, refusal = sandbox_from_settings()
        return LocalRuntime(settings.WORKSPACES_ROOT, sandbox=sandbox, refusal=refusal)
    raise ImproperlyConfigured(f"Workspace runtime {name!r} is not available in this installation.")


__all__ = ["LocalRuntime", "ProvisionStep", "WorkspaceRuntime", "get_runtime"]
