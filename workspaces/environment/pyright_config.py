"""pyrightconfig.json in the workspace root: how pyright (and basedpyright) finds the workspace venv.

Written when the workspace is provisioned and checked each time a pyright
session starts. It is the user's file too: keys already there are left as
they are, missing ones are added, and a file that is not valid JSON is left
alone (the language server reports it to the user).
"""

import json
import os
from pathlib import Path

import structlog

logger = structlog.get_logger(__name__)

CONFIG_FILE = "pyrightconfig.json"
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
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            logger.info("pyright_config_unreadable", path=CONFIG_FILE)
            return False
        if not isinstance(current, dict):
            return False
    missing = {key: value for key, value in DEFAULTS.items() if key not in current}
    if not missing:
        return False
    temporary = path.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({**current, **missing}, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return True
