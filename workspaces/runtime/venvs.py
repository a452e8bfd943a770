"""Workspace venvs and the absolute paths baked into them.

A virtualenv writes its own path into its activate files and into the first
line of every script pip installs (``#!/path/.venv/bin/python``); editable
installs write the project's path into ``.pth`` files and finder modules. A
venv made for one path (the host directory, before the sandbox) does not work
at another (``/workspace`` inside it). ``recorded_path`` says which path a
venv was made for; the relocation program, run in the workspace after
virtualenv has rewritten its own files, rewrites the rest.
"""

import os
import re
import sys
from pathlib import Path

RELOCATE_PROGRAM = Path(__file__).resolve().parent / "relocate_venv.py"
ACTIVATE_MAX_BYTES = 256 * 1024
# virtualenv writes VIRTUAL_ENV=/path (older: '/path'), python -m venv VIRTUAL_ENV="/path".
_VIRTUAL_ENV_LINE = re.compile(r"""^\s*VIRTUAL_ENV=(['"]?)(/[^'"\n]*)\1\s*$""", re.MULTILINE)


def recorded_path(venv: Path) -> str | None:
    """The path ``venv`` was created for, from its ``bin/activate``; None if that cannot be told."""
    try:
        # Not following a link: the file is the workspace's, and the platform reads it.
        descriptor = os.open(venv / "bin" / "activate", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as stream:
            text = stream.read(ACTIVATE_MAX_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    match = _VIRTUAL_ENV_LINE.search(text)
    return os.path.normpath(match.group(2)) if match else None


def relocation_command(old_venv: str, new_venv: str) -> list[str]:
    """The argv (paths as the workspace's processes see them) that moves a venv's other files to ``new_venv``.

    The program runs with the platform's interpreter, which every sandbox
    shows read-only; it is handed over as source, since the platform's own
    source tree is not visible to workspace processes.
    """
    source = RELOCATE_PROGRAM.read_text(encoding="utf-8")
    return [sys.executable, "-I", "-c", source, old_venv, new_venv]
