"""pyrightconfig.json in the workspace root: how pyright (and basedpyright) finds the workspace venv.

Written when the workspace is provisioned and checked each time a pyright
session starts. It is the user's file too: keys already there are left as
they are, missing ones are added, and a file that is not valid JSON is left
alone (the language server reports it to the user).
"""

import json
import os
import secrets
import stat
from contextlib import suppress
from pathlib import Path

import structlog
from django.conf import settings

from platform_core import json_limits
from workspaces import beneath

logger = structlog.get_logger(__name__)

CONFIG_FILE = "pyrightconfig.json"
# Far above any real configuration; a bigger file is left alone, not read into memory.
CONFIG_MAX_BYTES = 1 << 20
DEFAULTS = {
    "venvPath": ".",
    "venv": ".venv",
    "include": ["."],
    "exclude": ["**/.venv", "**/.devbench", "**/.pip-logs", "**/node_modules", "**/__pycache__", "**/.*"],
    "extraPaths": [],
    "typeCheckingMode": "basic",
    "reportMissingImports": "warning",
    "reportMissingModuleSource": "warning",
}


def ensure_pyright_config(root: Path) -> bool:
    """Create or complete ``root/pyrightconfig.json``; True if the file was written."""
    # Everything below the root is the workspace user's: the file is read and
    # replaced through a descriptor of the root, never followed if it is a
    # link, and the temporary file is created exclusively under a random name,
    # so a link planted at either name cannot make the platform read or write
    # anything outside the workspace.
    with beneath.Root(root) as workspace:
        try:
            descriptor = os.open(CONFIG_FILE, beneath.OPEN_FLAGS, dir_fd=workspace.fd)
        except FileNotFoundError:
            current: dict = {}
        except OSError:
            return False  # a link (ELOOP) or a socket: not ours to follow or replace
        else:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                os.close(descriptor)
                return False  # a folder or a FIFO: not ours to replace
            with os.fdopen(descriptor, "rb") as stream:
                try:
                    # The user's file: deep nesting must not crash the session start (RecursionError).
                    current = json_limits.loads(stream.read(CONFIG_MAX_BYTES + 1), max_depth=settings.JSON_MAX_DEPTH)
                except (OSError, ValueError):
                    logger.info("pyright_config_unreadable", path=CONFIG_FILE)
                    return False
            if not isinstance(current, dict):
                return False
        missing = {key: value for key, value in DEFAULTS.items() if key not in current}
        if not missing:
            return False
        temporary = f".{CONFIG_FILE}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(temporary, flags, 0o666, dir_fd=workspace.fd)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(json.dumps({**current, **missing}, indent=2) + "\n")
            os.replace(temporary, CONFIG_FILE, src_dir_fd=workspace.fd, dst_dir_fd=workspace.fd)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=workspace.fd)
            raise
    return True
