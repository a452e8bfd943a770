"""pyrightconfig.json in the workspace root: how pyright (and basedpyright) finds the workspace venv.

Written when the workspace is provisioned and checked each time a pyright
session starts. It is the user's file too: keys already there are left as
they are, missing ones are added, and a file that is not valid JSON is left
alone (the language server reports it to the user).
"""

import json
from pathlib import Path

import structlog

from workspaces.platform_writes import read_file, write_file

logger = structlog.get_logger(__name__)

CONFIG_FILE = "pyrightconfig.json"
CONFIG_MAX_BYTES = 1024 * 1024
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
    path = Path(root) / CONFIG_FILE
    current: dict = {}
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return False  # not ours to follow or replace
    if path.exists():
        # Read and written without following links: the workspace may swap the file for one meanwhile.
        content = read_file(root, CONFIG_FILE, CONFIG_MAX_BYTES)
        try:
            current = json.loads(content) if content is not None else None
        except ValueError:
            current = None
        if not isinstance(current, dict):
            logger.info("pyright_config_unreadable", path=CONFIG_FILE)
            return False
    missing = {key: value for key, value in DEFAULTS.items() if key not in current}
    if not missing:
        return False
    write_file(root, CONFIG_FILE, (json.dumps({**current, **missing}, indent=2) + "\n").encode("utf-8"))
    return True
