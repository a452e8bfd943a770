"""System checks of the workspaces app: is every workspace process sandboxed? Can search run?

Django runs these before `manage.py serve`, `migrate` and `check`: an error
stops the command, a warning is printed. Production (DEBUG off) refuses to
start when workspace processes would run unsandboxed, unless
WORKSPACE_ALLOW_UNSANDBOXED says that is accepted.
"""

from django.conf import settings
from django.core import checks

from workspaces import search
from workspaces.runtime.sandbox import sandbox_status

UNSANDBOXED_WARNING = "workspaces.W001"
UNSANDBOXED_ERROR = "workspaces.E001"
SANDBOX_REQUIRED_ERROR = "workspaces.E002"

HINT = (
    "Install bubblewrap (apt-get install bubblewrap; scripts/setup.sh does it as root) and make sure "
    "unprivileged user namespaces are allowed, or set WORKSPACE_ALLOW_UNSANDBOXED=1 to accept that every "
    "workspace's shell, runner and language servers can read and write the platform's files and each other's "
    "workspaces (docs/architecture.md, Isolation)."
)


@checks.register(checks.Tags.security)
def check_workspace_sandbox(app_configs, **kwargs):
    if settings.WORKSPACE_RUNTIME != "local":
        return []
    status = sandbox_status()
    if status.sandbox is not None:
        return []
    message = f"Workspace processes run without a sandbox: {status.problem}"
    if settings.WORKSPACE_SANDBOX == "bubblewrap":
        return [checks.Error(message, hint=HINT, id=SANDBOX_REQUIRED_ERROR)]
    if not settings.DEBUG and not settings.WORKSPACE_ALLOW_UNSANDBOXED:
        return [checks.Error(message, hint=HINT, id=UNSANDBOXED_ERROR)]
    return [checks.Warning(message, hint=HINT, id=UNSANDBOXED_WARNING)]


RIPGREP_MISSING_WARNING = "workspaces.W002"


@checks.register()
def check_ripgrep(app_configs, **kwargs):
    try:
        search.ripgrep()
    except search.SearchError as error:
        return [
            checks.Warning(
                error.message, hint="Quick open and search across files answer 503.", id=RIPGREP_MISSING_WARNING
            )
        ]
    return []
