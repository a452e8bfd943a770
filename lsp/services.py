"""Audit rows for language servers: restarts that people asked for.

Crash restarts and idle shutdowns are the platform's own doing and go to the
logs and metrics, not the audit log.
"""

from platform_core import audit


def record_restart(user, workspace, *, server: str) -> None:
    audit.record(user, "lsp.restart", workspace=workspace, metadata={"server": server})
