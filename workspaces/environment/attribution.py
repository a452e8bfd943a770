"""Who ran a pip call: terminal sessions sign the pip logs their processes write.

The audit log credits a pip call to a person only when the platform can tell
which terminal session it came from, without trusting anything else the
workspace writes (a log saying ``"user": "admin"`` is just a file):

- Each terminal session gets a random public ``session_id``, recorded in its
  ``terminal.open`` audit row (with the person who opened it), and a secret
  ``key`` derived from it with the platform's SECRET_KEY. Both reach the shell
  in one environment variable, ``DEVBENCH_TERMINAL_SESSION=<id>:<key>``, and
  nowhere else.
- The pip hook (``venv_files/devbench_env_hook.py``) writes the session id and
  an HMAC of the log's name, command, exit code and start time under the key
  into each log. The logs are readable by everyone in the workspace; the key
  is not in them, so nobody can sign a log for another person's session.
- The watcher recomputes the key from the id, checks the signature, and finds
  the session's ``terminal.open`` row; any process of the platform can,
  since they share SECRET_KEY. Anything else is credited to
  ``UNKNOWN_ACTOR``.

What this does not cover: code that another member of the workspace planted
where a person's shell runs it (``.devbench/home/.bashrc``, the venv's
scripts) runs with that person's key. Sessions are kept apart by the sandbox
(each terminal has its own pid namespace, so no shell reads another's
environment); without it, every process runs as the same host user and can.
"""

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.utils.crypto import salted_hmac

SESSION_VARIABLE = "DEVBENCH_TERMINAL_SESSION"
UNKNOWN_ACTOR = "unknown (terminal)"
_KEY_SALT = "devbench.terminal-session"
_SESSION_ID = re.compile(r"[0-9a-f]{32}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TerminalCredentials:
    """A terminal session's public id (audited) and secret key (only in its shell's environment)."""

    session_id: str
    key: str

    @property
    def environment_value(self) -> str:
        return f"{self.session_id}:{self.key}"


def new_terminal_credentials() -> TerminalCredentials:
    session_id = secrets.token_hex(16)
    return TerminalCredentials(session_id=session_id, key=session_key(session_id))


def session_key(session_id: str) -> str:
    return salted_hmac(_KEY_SALT, session_id, algorithm="sha256").hexdigest()


def signed_message(log_name: str, record: dict[str, Any]) -> bytes:
    """What the hook signs: the log's name and the fields the audit row keeps.

    The same bytes as the hook's ``signed_message``: keep the two in step.
    """
    fields = [record.get("command"), record.get("exit_code"), record.get("started_at")]
    return (log_name + "\n" + json.dumps(fields, separators=(",", ":"), ensure_ascii=True)).encode("utf-8")


def verified_session(log_name: str, record: dict[str, Any]) -> str | None:
    """The terminal session id a pip log was signed for, or None if it is unsigned or the signature is wrong."""
    session_id = record.get("terminal_session")
    signature = record.get("signature")
    if not isinstance(session_id, str) or not isinstance(signature, str):
        return None
    if not _SESSION_ID.fullmatch(session_id) or not _SIGNATURE.fullmatch(signature):
        return None
    expected = hmac.new(session_key(session_id).encode(), signed_message(log_name, record), hashlib.sha256)
    return session_id if hmac.compare_digest(expected.hexdigest(), signature) else None
