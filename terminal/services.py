"""Audit rows for terminals: who opened which terminal and how it ended.

Never keystrokes or output: the rows carry the terminal's name, exit code and
duration only.
"""

from platform_core import audit


def record_terminal_open(user, workspace, *, name: str, readonly: bool, session_id: str | None = None) -> None:
    """A session started (the first attach for its name).

    ``session_id`` is the session's public id, which its shell's pip calls
    carry (workspaces/environment/attribution.py): the row says whose they are.
    """
    metadata = {"name": name, "readonly": readonly}
    if session_id is not None:
        metadata["session"] = session_id
    audit.record(user, "terminal.open", workspace=workspace, metadata=metadata)


def record_terminal_close(
    user, workspace, *, name: str, exit_code: int | None, duration_seconds: float, outcome: str | None
) -> None:
    """A session ended: the shell exited, or the platform closed it (``outcome`` says why)."""
    audit.record(
        user,
        "terminal.close",
        workspace=workspace,
        metadata={"name": name, "exit_code": exit_code, "duration_seconds": duration_seconds, "outcome": outcome},
    )
