"""Language-server actions people take, with their audit rows.

Crash restarts and idle shutdowns are the platform's own doing and go to the
logs and metrics, not the audit log.
"""

from lsp.manager import get_language_server_manager
from platform_core import audit


def do_restart_server(user, workspace, server: str) -> dict:
    """Restart ``user``'s ``server`` in the workspace (from any thread); its health afterwards.

    Raises ``NoSession`` when none runs, ``LanguageServerError`` when it does not answer.
    """
    manager = get_language_server_manager()
    health = manager.call(manager.restart, workspace.pk, user.pk, server)
    audit.record(user, "lsp.restart", workspace=workspace, metadata={"server": server})
    return health
